package report_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// wantBindShell: corpus/bind_shell.py (hidden: bind_shell_ctypes.py,
// its bind and listen through ctypes) made its shell run, and the report
// says, on the kernel's evidence, that it opened each of addrs as a
// listening port (medium network) and that the shell sat on the accepted
// connection (a bind shell, critical execution); hidden, that the kernel
// saw a listen the hook did not (high evasion).
func wantBindShell(t *testing.T, b moat.Backend, hidden bool, addrs ...string) {
	t.Helper()
	wantBindShellRun(t, runBindShell(t, b, hidden, nil), hidden, moat.SourceKernel, addrs...)
}

// runBindShell runs corpus/bind_shell.py (hidden: bind_shell_ctypes.py)
// with the userland and mod, and fails unless its shell ran.
func runBindShell(t *testing.T, b moat.Backend, hidden bool, mod func(*moat.Spec)) *moat.Result {
	t.Helper()
	file, said := "bind_shell.py", "bound-42"
	if hidden {
		file, said = "bind_shell_ctypes.py", "hidden-42"
	}
	res := run(t, b, filepath.Join("testdata", "corpus", file), func(s *moat.Spec) {
		userland(s)
		if mod != nil {
			mod(s)
		}
	})
	if !strings.Contains(res.Stdout, "shell said: "+said) {
		dump(t, res)
		t.Fatalf("the bind shell did not run: stdout %q", res.Stdout)
	}
	return res
}

// wantBindShellRun is wantBindShell's judgement of res, with the
// listener events of source (the kernel's; the hook's where the run has
// no kernel witness of listens) as the evidence.
func wantBindShellRun(t *testing.T, res *moat.Result, hidden bool, source moat.Source, addrs ...string) {
	t.Helper()
	kernelListener := func(addr string) func(moat.Event) bool {
		return func(e moat.Event) bool {
			return e.Source == source && e.Kind == moat.KindListener && e.Addr == addr
		}
	}
	var port, shell, evasion bool
	for _, f := range res.Findings {
		switch {
		case f.Category == moat.CategoryNetwork && f.Severity.Rank() >= moat.SeverityMedium.Rank() && strings.Contains(f.Summary, "listening port"):
			port = true
			for _, a := range addrs {
				if !strings.Contains(f.Summary, a) || !slices.ContainsFunc(f.Evidence, kernelListener(a)) {
					dump(t, res)
					t.Errorf("the listening-port finding does not name %s on the kernel's evidence: %s", a, f.Summary)
				}
			}
		case f.Category == moat.CategoryExecution && f.Severity == moat.SeverityCritical && strings.HasPrefix(f.Summary, "bind shell: "):
			shell = slices.ContainsFunc(f.Evidence, kernelListener(addrs[0]))
		case f.Category == moat.CategoryEvasion && f.Severity == moat.SeverityHigh && strings.Contains(f.Summary, "audit hook did not report"):
			evasion = evasion || slices.ContainsFunc(f.Evidence, kernelListener(addrs[0]))
		}
	}
	if !port || !shell || evasion != hidden {
		dump(t, res)
		t.Errorf("listening port %v, bind shell on the kernel's listen %v, the listen an evasion %v (want %v)", port, shell, evasion, hidden)
	}
}
