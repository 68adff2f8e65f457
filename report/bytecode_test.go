package report_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/backend/gvisor"
	"github.com/moat-sandbox/moat/backend/podman"
	"github.com/moat-sandbox/moat/moattest"
)

// bytecodeBackends are the backends of TestBytecodeVerified, each with
// what it can carry: verified, the suspect .pyc files and their sources
// reach the host, which verifies them in a fresh sandbox of the backend;
// else (declared, with the reason) every suspect stays high, "not
// verified" (fail closed), benign bytecode included.
var bytecodeBackends = []struct {
	name     string
	new      func(t *testing.T) moat.Backend
	verified string // "" or why not
}{
	{"native", func(t *testing.T) moat.Backend { return moattest.RequireBackend(t, "native") }, ""},
	{"native-zygote", func(t *testing.T) moat.Backend {
		if os.Geteuid() != 0 {
			t.Skip("the zygote is tested as root")
		}
		return zygoteOnly{zygoteBackend(t)}
	}, ""},
	{"gvisor", func(t *testing.T) moat.Backend { moattest.RequireBackend(t, "gvisor"); return &gvisor.Backend{} }, ""},
	{"docker", func(t *testing.T) moat.Backend {
		moattest.RequireBackend(t, "docker")
		return docker.New(testImage(), "", "")
	}, ""},
	{"podman", func(t *testing.T) moat.Backend {
		moattest.RequireBackend(t, "podman")
		return podman.New(testImage(), "")
	}, ""},
	// under TCG one case only (TestBytecodeVerified)
	{"microvm", func(t *testing.T) moat.Backend { return moattest.RequireBackend(t, "microvm") },
		"the micro-VM's guest does not send the suspect .pyc files and their sources out"},
}

// TestBytecodeVerified: a suspect .pyc (one in a __pycache__ for a source
// the run did not change, with its size) is verified with the run's own
// interpreter in a fresh sandbox (report.VerifyBytecode). A project that
// compiles its own sources (compileall at every optimization level,
// py_compile, a child that resets sys.dont_write_bytecode) gives nothing above
// low, and a low note that names them verified; a genuine header over
// another body (what a header-only check takes for a build step), a .pyc
// past the verification's bounds, and one behind 150 benign ones are high
// persistence, on every backend.
func TestBytecodeVerified(t *testing.T) {
	for _, bk := range bytecodeBackends {
		t.Run(bk.name, func(t *testing.T) {
			b := bk.new(t)
			if bk.name == "microvm" {
				compileProject(t, b, bk.verified, false)
				return
			}
			bytecodeCases(t, b, bk.verified)
		})
	}
}

func compileProject(t *testing.T, b moat.Backend, notVerified string, workspace bool) {
	name, n := "compile-files", 4
	if workspace {
		name, n = "compile-project", 6
	}
	t.Run(name, func(t *testing.T) {
		dir := filepath.Join("testdata", "benign", "compile_project")
		spec := &moat.Spec{Args: []string{"run.py"}, Limits: moat.Limits{Timeout: 60 * time.Second}}
		if workspace {
			// with its package (a workspace: a native zygote runs it
			// cold)
			ws, err := filepath.Abs(dir)
			if err != nil {
				t.Fatal(err)
			}
			spec.Workspace = ws
		} else {
			spec.Files = map[string][]byte{}
			for _, f := range []string{"run.py", "mod.py", "mod2.py"} {
				data, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				spec.Files[f] = data
			}
		}
		res, err := b.Run(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != moat.StatusExited || res.ExitCode != 0 || !strings.Contains(res.Stdout, "compiled True 0 285") {
			dump(t, res)
			t.Fatalf("status %s exit %d: the project did not compile", res.Status, res.ExitCode)
		}
		if notVerified != "" {
			// Declared: nothing is verified here, every suspect is high.
			if !hasSummary(res.Findings, moat.SeverityHigh, "not verified") {
				dump(t, res)
				t.Errorf("no high 'not verified' finding (declared: %s)", notVerified)
			}
			return
		}
		for _, f := range res.Findings {
			if f.Severity.Rank() > moat.SeverityLow.Rank() {
				dump(t, res)
				t.Errorf("benign program got %s %s: %s", f.Severity, f.Category, f.Summary)
			}
		}
		// 2 of pkg, 3 of mod (opt 0, 1, 2), 1 of mod2 from the child
		if !hasSummary(res.Findings, moat.SeverityLow, fmt.Sprintf("wrote bytecode for %d sources it did not change, verified", n)) {
			dump(t, res)
			t.Errorf("no low note of the %d verified .pyc files", n)
		}
	})
}

func bytecodeCases(t *testing.T, b moat.Backend, notVerified string) {
	compileProject(t, unwrapZygote(b), notVerified, true)
	compileProject(t, b, notVerified, false)
	for _, c := range []struct {
		file, want string
		mod        func(*moat.Spec)
	}{
		{"pyc_header_copy.py", "its code differs from what", nil},
		{"pyc_huge.py", "not verified", nil},
		{"pyc_crowd.py", "more suspect .pyc files past the diff's reserve", func(s *moat.Spec) {
			for i := range 150 {
				s.Files[fmt.Sprintf("m_%03d.py", i)] = fmt.Appendf(nil, "VALUE = %d\n", i)
			}
			s.Files["zz_target.py"] = []byte("VALUE = 'target'\n")
			s.Limits.Timeout = 60 * time.Second
		}},
	} {
		t.Run(strings.TrimSuffix(c.file, ".py"), func(t *testing.T) {
			res := run(t, b, filepath.Join("testdata", "corpus", c.file), c.mod)
			if res.Status != moat.StatusExited || res.ExitCode != 0 {
				dump(t, res)
				t.Fatalf("status %s exit %d", res.Status, res.ExitCode)
			}
			want := c.want
			if notVerified != "" && c.file == "pyc_header_copy.py" {
				want = "not verified"
			}
			if !hasSummary(res.Findings, moat.SeverityHigh, "planted bytecode") || !hasSummary(res.Findings, moat.SeverityHigh, want) {
				dump(t, res)
				t.Errorf("no high planted-bytecode finding saying %q", want)
			}
		})
	}
}

// hasSummary: a persistence finding of severity sev whose summary holds s.
func hasSummary(fs []moat.Finding, sev moat.Severity, s string) bool {
	for _, f := range fs {
		if f.Category == moat.CategoryPersistence && f.Severity == sev && strings.Contains(f.Summary, s) {
			return true
		}
	}
	return false
}

// unwrapZygote is b, or the backend a zygoteOnly wraps: a run with a
// workspace does not fit a zygote and runs cold.
func unwrapZygote(b moat.Backend) moat.Backend {
	if z, ok := b.(zygoteOnly); ok {
		return z.Backend
	}
	return b
}
