package report_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/backend/gvisor"
	"github.com/moat-sandbox/moat/backend/podman"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/moattest"
	"github.com/moat-sandbox/moat/report"
)

// bytecodeBackends are the backends of TestBytecodeVerified, each with
// what it can carry: verified, the suspect .pyc files and their sources
// reach the host, which verifies them in a fresh sandbox of the backend;
// else (declared, with the reason) every suspect stays high, "not
// verified" (fail closed), benign bytecode included.
var bytecodeBackends = []bytecodeBackend{
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
	{"gvisor-image", func(t *testing.T) moat.Backend {
		moattest.RequireBackend(t, "gvisor")
		moattest.RequireBackend(t, "docker")
		return withImage{&gvisor.Backend{}, testImage()}
	}, ""},
	// under TCG two cases only (TestBytecodeVerified)
	{"microvm", func(t *testing.T) moat.Backend { return moattest.RequireBackend(t, "microvm") }, ""},
	// its --image: verified in a guest of the image by its ID
	{"microvm-image", func(t *testing.T) moat.Backend {
		return withImage{moattest.RequireBackend(t, "microvm"), testImage()}
	}, ""},
}

type bytecodeBackend struct {
	name     string
	new      func(t *testing.T) moat.Backend
	verified string // "" or why not
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
	t.Parallel()
	for _, bk := range bytecodeBackends {
		t.Run(bk.name, func(t *testing.T) {
			b := bk.new(t)
			if strings.HasPrefix(bk.name, "microvm") {
				// under TCG: a benign compile, verified the same, and a
				// genuine header over another body, verified to differ
				compileProject(t, b, bk.verified, false)
				bytecodeCases(t, b, bk.verified, "pyc_header_copy.py")
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

// bytecodeCases runs the cases of TestBytecodeVerified on b; only those
// of the files named, if any (then not compileProject's).
func bytecodeCases(t *testing.T, b moat.Backend, notVerified string, only ...string) {
	if len(only) == 0 {
		compileProject(t, unwrapZygote(b), notVerified, true)
		compileProject(t, b, notVerified, false)
	}
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
		if len(only) > 0 && !slices.Contains(only, c.file) {
			continue
		}
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

// TestVerifyBytecode: the verification itself, in a real native sandbox
// of the host's python3: a genuine compile is the same (at its .opt-N
// level too), another body differs, another interpreter's magic number,
// a body marshal cannot read, and a pair the diff did not keep are not
// verified; a verdict the event came with is dropped.
func TestVerifyBytecode(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	src := []byte("def f(x):\n    assert x\n    return x + 1\n")
	compile := func(code string, opt int) []byte {
		t.Helper()
		cmd := exec.Command(py, "-I", "-c", `import sys, importlib._bootstrap_external as be
src = sys.stdin.buffer.read()
code = compile(`+code+`, "m.py", "exec", dont_inherit=True, optimize=int(sys.argv[1]))
sys.stdout.buffer.write(be._code_to_timestamp_pyc(code, 0, len(src)))`, fmt.Sprint(opt))
		cmd.Stdin = bytes.NewReader(src)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	genuine, opt2, other := compile("src", 0), compile("src", 2), compile(`"import os"`, 0)
	wrongMagic := append([]byte{0x01, 0x02, '\r', '\n'}, genuine[4:]...)
	garbage := append(append([]byte(nil), genuine[:16]...), 0xff, 0xfe, 0xfd)
	pairs := []observe.PycPair{
		{Path: "/work/__pycache__/a.cpython-311.pyc", Pyc: genuine, Source: src},
		{Path: "/work/__pycache__/b.cpython-311.opt-2.pyc", Opt: 2, Pyc: opt2, Source: src},
		{Path: "/work/__pycache__/c.cpython-311.pyc", Pyc: other, Source: src},
		{Path: "/work/__pycache__/d.cpython-311.pyc", Pyc: wrongMagic, Source: src},
		{Path: "/work/__pycache__/e.cpython-311.pyc", Pyc: garbage, Source: src},
		{Path: "/work/__pycache__/f.cpython-311.opt-2.pyc", Opt: 2, Pyc: genuine, Source: src}, // opt 0 code under an opt-2 name: asserts are gone at opt 2
	}
	var evs []moat.Event
	for _, p := range append(pairs, observe.PycPair{Path: "/work/__pycache__/g.cpython-311.pyc"}) {
		evs = append(evs, moat.Event{Source: moat.SourceFS, Kind: moat.KindBytecode, Path: p.Path, Name: report.BytecodeSame, Detail: "why"})
	}
	got := report.VerifyBytecode(evs, pairs, b.Run)
	want := []struct{ name, detail string }{
		{report.BytecodeSame, "why"},
		{report.BytecodeSame, "why"},
		{report.BytecodeDiffers, "its code differs"},
		{"", "its magic number is not the run's interpreter's"},
		{"", "could not be unmarshalled"},
		{report.BytecodeDiffers, "its code differs"},
		{"", "not verified: the .pyc or its source was not carried out"},
	}
	for i, w := range want {
		if got[i].Name != w.name || !strings.Contains(got[i].Detail, w.detail) {
			t.Errorf("%s: got %q %q, want %q and %q", got[i].Path, got[i].Name, got[i].Detail, w.name, w.detail)
		}
	}
	// Two events of one (cut) path: a benign pair cannot answer for both.
	twice := []moat.Event{evs[0], evs[0]}
	for _, e := range report.VerifyBytecode(twice, pairs[:1], b.Run) {
		if e.Name != "" || !strings.Contains(e.Detail, "not told apart") {
			t.Errorf("%s: got %q %q, want it not verified", e.Path, e.Name, e.Detail)
		}
	}
	// A verification that cannot run leaves every suspect unverified.
	for _, e := range report.VerifyBytecode(evs, pairs, report.Unverified("the run was canceled")) {
		if e.Name != "" || !strings.Contains(e.Detail, "not verified") {
			t.Errorf("%s: got %q %q, want it not verified", e.Path, e.Name, e.Detail)
		}
	}
}

// withImage runs every spec in image (gVisor through Docker).
type withImage struct {
	moat.Backend
	image string
}

func (b withImage) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	spec.Image = b.image
	return b.Backend.Run(ctx, spec)
}
