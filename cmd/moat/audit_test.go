package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat/moattest"
)

// A backend that does not isolate runs only when the user says so, and is
// warned about every time.
func TestVenvNeedsAcknowledgement(t *testing.T) {
	moattest.RequireBackend(t, "venv")
	r := moatRun(t, nil, "run", "--isolation", "venv", "-c", "print('ran')")
	if r.code != 125 || r.stdout != "" || !strings.Contains(r.stderr, "--i-accept-no-isolation") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("without the flag: %v", r)
	}
	r = moatRun(t, nil, "run", "--isolation", "venv", "--i-accept-no-isolation", "-c", "print('ran')")
	if r.code != 0 || r.stdout != "ran\n" || !strings.Contains(r.stderr, "moat: warning: --isolation venv does not isolate") {
		t.Fatalf("with the flag: %v", r)
	}
}

// Every other way to a backend that does not isolate asks for the flag
// too: a policy file, moat test, and moat scan's analysers (which read the
// untrusted package).
func TestVenvNeedsAcknowledgementEverywhere(t *testing.T) {
	moattest.RequireBackend(t, "venv")
	dir := t.TempDir()
	policy := writeFile(t, filepath.Join(dir, "policy.toml"), "isolation = \"venv\"\n")
	proj := filepath.Join(dir, "proj")
	writeFile(t, filepath.Join(proj, "pyproject.toml"), "[project]\nname = \"p\"\nversion = \"1\"\n")
	writeFile(t, filepath.Join(proj, "setup.py"), "import os\nos.system('echo hi')\n")
	for _, args := range [][]string{
		{"run", "--policy", policy, "-c", "print('ran')"},
		{"test", "--isolation", "venv", "--network-install", "none", "--network-import", "none", proj},
		{"scan", "--isolation", "venv", "--analysers", "bandit", proj},
	} {
		// Not moatRun: it would pin the run to native.
		cmd := exec.Command(moatBin, args...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 125 || !strings.Contains(errb.String(), "--i-accept-no-isolation") || strings.Contains(errb.String(), "moat-venv-") {
			t.Errorf("%q without the flag: %v\nstdout: %s\nstderr: %s", args, err, out.String(), errb.String())
		}
	}
}

// RestrictedPython's refusal: exit 126 and one line that names the
// construct and the line.
func TestRestrictedRefusalCLI(t *testing.T) {
	moattest.RequireBackend(t, "restricted")
	r := moatRun(t, nil, "run", "--isolation", "restricted", "-c", "x = 1\nimport os\n")
	if r.code != 126 || !strings.Contains(r.stderr, "moat: restricted: RestrictedPython refused the program: Line 2: import of 'os' is not allowed") {
		t.Fatalf("%v", r)
	}
	if strings.Contains(r.stderr, "moat-restricted:") {
		t.Errorf("the runner's own line reached the terminal: %v", r)
	}
}

type auditRow struct {
	Backend      string   `json:"backend"`
	Level        string   `json:"level"`
	Available    bool     `json:"available"`
	Contained    int      `json:"contained"`
	Total        int      `json:"total"`
	NotContained []string `json:"not_contained"`
	Layers       []string `json:"layers"`
}

// moat audit --json: a row per backend asked for, measured; progress on
// stderr.
func TestAuditJSON(t *testing.T) {
	moattest.RequireBackend(t, "venv")
	requireNative(t)
	r := moatRun(t, nil, "audit", "--json", "--isolation", "venv,native,jail", "--probe", "env,signals,fds")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	var rows []auditRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("rows %v (%v): %s", rows, err, r.stdout)
	}
	v, n, m := rows[0], rows[1], rows[2]
	if v.Backend != "venv" || v.Level != "none" || !v.Available || v.Total != 3 || v.Contained != 0 ||
		!slices.Equal(v.NotContained, []string{"env", "signals", "fds"}) {
		t.Errorf("venv row: %+v", v)
	}
	if n.Backend != "native" || n.Level != "medium" || n.Total != 3 || n.Contained != 3 || len(n.NotContained) != 0 || !slices.Contains(n.Layers, "seccomp") {
		t.Errorf("native row: %+v", n)
	}
	if m.Backend != "jail" || m.Available || m.Total != 0 || m.NotContained == nil {
		t.Errorf("jail row (FreeBSD only): %+v", m)
	}
	for _, want := range []string{"moat: audit: venv: env", "NOT CONTAINED", "moat: audit: native: fds", "contained", "moat: audit: jail: unavailable"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress on stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestAuditBadInput(t *testing.T) {
	for _, args := range [][]string{{"audit", "--isolation", "nope"}, {"audit", "--probe", "nope"}} {
		r := moatRun(t, nil, args...)
		if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "moat: ") {
			t.Errorf("%q: %v", args, r)
		}
	}
}
