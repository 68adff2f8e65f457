package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDist: RECORD lists the .pth, the module, the bytecode (no hash, as
// pip writes for what it compiled) and every dist-info file, each with the
// sha256 and size of what is written, sorted; direct_url.json says
// editable.
func TestDist(t *testing.T) {
	pth := PthLine("/tmp/x/audit")
	files := Dist(pth, "print(1)\n", "cpython-311")
	rec := files[DistInfo+"/RECORD"]
	rows := strings.Split(strings.TrimSuffix(rec, "\n"), "\n")
	if !slices.IsSorted(rows) {
		t.Errorf("RECORD is not sorted:\n%s", rec)
	}
	all := map[string]string{PthFile: pth, Module + ".py": "print(1)\n"}
	for name, data := range files {
		all[name] = data
	}
	listed := map[string]bool{}
	for _, row := range rows {
		f := strings.Split(row, ",")
		if len(f) != 3 {
			t.Fatalf("row %q", row)
		}
		listed[f[0]] = true
		if f[0] == DistInfo+"/RECORD" || strings.HasSuffix(f[0], ".pyc") {
			if f[1] != "" || f[2] != "" {
				t.Errorf("row %q has a hash", row)
			}
			continue
		}
		data, ok := all[f[0]]
		if !ok {
			t.Errorf("RECORD lists %s, not written", f[0])
			continue
		}
		sum := sha256.Sum256([]byte(data))
		if f[1] != "sha256="+base64.RawURLEncoding.EncodeToString(sum[:]) || f[2] != strconv.Itoa(len(data)) {
			t.Errorf("row %q does not match %s", row, f[0])
		}
	}
	for name := range all {
		if !listed[name] {
			t.Errorf("%s is not in RECORD", name)
		}
	}
	if !listed["__pycache__/"+Module+".cpython-311.pyc"] {
		t.Error("RECORD lacks the bytecode")
	}
	if !strings.Contains(files[DistInfo+"/direct_url.json"], `"editable": true`) {
		t.Error("direct_url.json does not say editable")
	}
	if _, ok := Dist(pth, "", "")[DistInfo+"/RECORD"]; !ok {
		t.Error("no RECORD without bytecode")
	}
	for site, want := range map[string]string{"/usr/local/lib/python3.11/dist-packages": "cpython-311",
		"/opt/py/lib/python3.13/site-packages": "cpython-313", "/usr/lib/pypy3/site-packages": "", "/x/pythonX.Y": ""} {
		if got := CacheTag(site); got != want {
			t.Errorf("CacheTag(%q) = %q, want %q", site, got, want)
		}
	}
}
