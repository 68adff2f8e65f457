package audit_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/audit"
	"github.com/moat-sandbox/moat/backend/all"
	"github.com/moat-sandbox/moat/moattest"
)

func TestMain(m *testing.M) {
	all.Init() // native (and restricted on it) re-executes this binary
	os.Exit(m.Run())
}

// battery runs every probe against the named backend and logs each outcome.
func battery(t *testing.T, name string) audit.Row {
	t.Helper()
	b := moattest.RequireBackend(t, name)
	row, err := audit.Backend(context.Background(), name, b, audit.Options{Progress: func(_ string, o audit.Outcome) {
		t.Logf("%-15s contained=%v refused=%v %s", o.Probe, o.Contained, o.Refused, o.Detail)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if row.Total != len(audit.Probes) || row.Contained+len(row.NotContained) != row.Total {
		t.Fatalf("row does not add up: %+v", row)
	}
	return row
}

// The venv backend isolates nothing: the probes that need isolation get
// through, and only what a process on the host can be given (timeout,
// output cap, rlimits, its own directory removed) holds.
func TestVenvContainsFew(t *testing.T) {
	row := battery(t, "venv")
	for _, p := range []string{"host-files", "secrets", "env", "net-host", "net-raw", "fork-bomb", "disk-bomb",
		"orphans", "syscalls", "proc-sys-writes", "signals", "fds"} {
		if os.Geteuid() != 0 && (p == "syscalls" || p == "proc-sys-writes" || p == "net-raw" || p == "fork-bomb") {
			continue // what only root gets through
		}
		if !slices.Contains(row.NotContained, p) {
			t.Errorf("venv contained %s: a venv cannot", p)
		}
	}
	for _, p := range []string{"output-bomb", "busy-loop", "cleanup"} {
		if slices.Contains(row.NotContained, p) {
			t.Errorf("venv did not contain %s, which its layers (output cap, timeout, own directory) should", p)
		}
	}
	if row.Contained > row.Total/3 {
		t.Errorf("venv contained %d of %d probes: %+v", row.Contained, row.Total, row)
	}
	if !slices.Contains(row.Layers, "rlimits") || slices.Contains(row.Layers, "seccomp") {
		t.Errorf("venv's layers: %v", row.Layers)
	}
}

// The native sandbox contains every probe.
func TestNativeContainsAll(t *testing.T) {
	row := battery(t, "native")
	if len(row.NotContained) > 0 {
		for _, o := range row.Probes {
			if !o.Contained {
				t.Errorf("native did not contain %s: %s", o.Probe, o.Detail)
			}
		}
	}
	if len(row.Refused) > 0 {
		t.Errorf("native refused %v: it has no policy that refuses programs", row.Refused)
	}
}

// RestrictedPython refuses the probes that need the OS (imports, open,
// underscore names), not the bombs written in plain Python; those run past
// it, and the native sandbox under it contains them.
func TestRestrictedRefusesSome(t *testing.T) {
	row := battery(t, "restricted")
	if len(row.NotContained) > 0 {
		t.Errorf("restricted+native did not contain %v", row.NotContained)
	}
	if len(row.Refused) == 0 || len(row.Refused) == row.Total {
		t.Fatalf("refused %d of %d probes, want some but not all: %v", len(row.Refused), row.Total, row.Refused)
	}
	for _, p := range []string{"memory-bomb", "output-bomb", "busy-loop"} {
		if slices.Contains(row.Refused, p) {
			t.Errorf("RestrictedPython refused %s, which is plain Python it cannot stop", p)
		}
	}
	for _, p := range []string{"host-files", "fork-bomb", "syscalls", "net-host"} {
		if !slices.Contains(row.Refused, p) {
			t.Errorf("RestrictedPython let %s run", p)
		}
	}
	if len(row.Layers) < 2 || row.Layers[0] != "restricted" || !slices.Contains(row.Layers, "seccomp") {
		t.Errorf("layers %v, want restricted first, then native's", row.Layers)
	}
}

// Every probe has a source, a judge and a unique name.
func TestProbesDefined(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range audit.Probes {
		if seen[p.Name] {
			t.Errorf("probe %s twice", p.Name)
		}
		seen[p.Name] = true
		if src := audit.Source(p.Name); !strings.Contains(src, "\n") {
			t.Errorf("probe %s: no source", p.Name)
		}
		if p.What == "" {
			t.Errorf("probe %s: no description", p.Name)
		}
	}
	if _, err := moat.Get("venv"); err != nil {
		t.Fatal(err)
	}
}

func TestSyscallDenied(t *testing.T) {
	for v, want := range map[string]bool{"-1 EPERM": true, "-1 ENOSYS": true, "-1 EACCES": true, "-1 EINVAL": false,
		"0 ": false, "271962675 ": false, "-1 ENOENT": false, "": false} {
		if got := audit.SyscallDenied(v); got != want {
			t.Errorf("SyscallDenied(%q) = %v, want %v", v, got, want)
		}
	}
}
