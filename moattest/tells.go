package moattest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
)

// NoTells runs the tells program at script (report/testdata/corpus/tells.py:
// it looks for the cheap tells of a sandbox and prints them as JSON) three
// times on b: no tell, and at least two host names and two boot times
// (/proc/stat's btime) among the three runs and two places of the audit
// hook's channel (up to nine runs) (the persona, its machine's age and the
// hook's place are drawn per run; a backend documented to keep the hook
// in one place passes "the hook's place" in known, one that shows its
// host's boot time "the boot time"). mod, if not nil, adjusts each spec.
// known are tells the backend is documented to leave (docs/report.md):
// logged, not errors.
func NoTells(t *testing.T, b moat.Backend, script string, mod func(*moat.Spec), known ...string) {
	t.Helper()
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(script)
	hosts, hooks, boots := map[string]bool{}, map[string]bool{}, map[int64]bool{}
	// Three runs, and up to six more while the hook's place has been the
	// same: a backend that draws it among a few directories (native's
	// eight) draws the same three times in one case of 64.
	for i := 0; i < 3 || len(hooks) < 2 && i < 9; i++ {
		spec := &moat.Spec{Args: []string{name}, Files: map[string][]byte{name: src}, Limits: moat.Limits{Timeout: 60 * time.Second}}
		if mod != nil {
			mod(spec)
		}
		res, err := b.Run(context.Background(), spec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var out struct {
			Tells []string `json:"tells"`
			Host  string   `json:"host"`
			Hook  string   `json:"hook"`
			Boot  int64    `json:"boot"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || out.Host == "" {
			t.Fatalf("%s: %v; status %s exit %d\nstdout: %s\nstderr: %s", name, err, res.Status, res.ExitCode, res.Stdout, res.Stderr)
		}
		hooks[out.Hook] = true
		if i >= 3 {
			continue
		}
		for _, tell := range out.Tells {
			if slices.ContainsFunc(known, func(k string) bool { return strings.HasPrefix(tell, k) }) {
				t.Logf("known tell: %s", tell)
				continue
			}
			t.Errorf("tell: %s", tell)
		}
		hosts[out.Host] = true
		boots[out.Boot] = true
	}
	if len(hosts) < 2 {
		t.Errorf("three runs, one host name: %v", hosts)
	}
	if tell := "the boot time"; len(boots) < 2 || boots[0] {
		if slices.ContainsFunc(known, func(k string) bool { return strings.HasPrefix(tell, k) }) {
			t.Logf("known tell: %s is the same in every run or not found: %v", tell, boots)
		} else {
			t.Errorf("%s is the same in every run, or not found: %v", tell, boots)
		}
	}
	if tell := "the hook's place"; len(hooks) < 2 || hooks[""] {
		if slices.ContainsFunc(known, func(k string) bool { return strings.HasPrefix(tell, k) }) {
			t.Logf("known tell: %s is the same in every run or not found: %v", tell, hooks)
		} else {
			t.Errorf("%s is the same in every run, or not found: %v", tell, hooks)
		}
	}
}
