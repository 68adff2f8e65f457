package restricted

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/moattest"
)

func TestMain(m *testing.M) {
	native.Init() // the sandbox under RestrictedPython re-executes this binary
	os.Exit(m.Run())
}

func run(t *testing.T, spec *moat.Spec) *moat.Result {
	t.Helper()
	b := moattest.RequireBackend(t, "restricted")
	res, err := b.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// What RestrictedPython accepts runs, with the allowed modules, inside the
// native sandbox, and the result says both layers.
func TestRuns(t *testing.T) {
	res := run(t, &moat.Spec{Args: []string{"-c", "import math, json\nclass A:\n    def f(self, x):\n        return x * 2\nxs = [A().f(i) for i in range(4)]\nxs += [1]\nprint(json.dumps({'s': sum(xs), 'pi': round(math.pi, 2)}))", "arg1"}})
	if res.Status != moat.StatusExited || res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != `{"s": 13, "pi": 3.14}` {
		t.Fatalf("status %s exit %d stdout %q stderr %q", res.Status, res.ExitCode, res.Stdout, res.Stderr)
	}
	if res.Isolation != "restricted+native" || len(res.Layers) < 2 || res.Layers[0].Name != "restricted" {
		t.Errorf("isolation %q layers %v", res.Isolation, res.Layers)
	}
	seccomp := false
	for _, l := range res.Layers {
		seccomp = seccomp || l.Name == "seccomp"
	}
	if !seccomp {
		t.Errorf("the native sandbox's layers are missing: %v", res.Layers)
	}
}

// A script file from the files is compiled too, and gets its arguments.
func TestScriptArgs(t *testing.T) {
	res := run(t, &moat.Spec{Args: []string{"prog.py", "a", "b"}, Files: map[string][]byte{"prog.py": []byte("print('args ok')\n")}})
	if res.Status != moat.StatusExited || strings.TrimSpace(res.Stdout) != "args ok" {
		t.Fatalf("status %s stdout %q stderr %q error %q", res.Status, res.Stdout, res.Stderr, res.Error)
	}
}

// What RestrictedPython refuses is a result, status refused (exit 126),
// naming the construct and the line, at compile time and at run time.
func TestRefused(t *testing.T) {
	for _, c := range []struct{ name, code, want string }{
		{"dunder", "x = 1\ny = ().__class__\n", `Line 2: "__class__" is an invalid attribute name`},
		{"frame", "def g():\n    yield 1\nprint(g().gi_frame)\n", `Line 3: "gi_frame" is a restricted name`},
		{"exec", "exec('print(1)')\n", `Line 1: Exec calls are not allowed`},
		{"import-os", "x = 1\nimport os\n", `Line 2: import of 'os' is not allowed`},
		{"from-import", "from subprocess import run\n", `Line 1: import of 'subprocess' is not allowed`},
		{"open", "\n\nopen('/etc/passwd')\n", `Line 3: builtin open is not available`},
		{"print-file", "import json\nprint('x', file=json)\n", `Line 2: print(file=...) is not allowed`},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := run(t, &moat.Spec{Args: []string{"-c", c.code}})
			if res.Status != moat.StatusRefused || res.ExitStatus() != 126 {
				t.Fatalf("status %s exit %d, want refused/126 (stderr %q)", res.Status, res.ExitStatus(), res.Stderr)
			}
			if !strings.Contains(res.Error, c.want) {
				t.Errorf("error %q, want it to say %q", res.Error, c.want)
			}
			if strings.Contains(res.Stderr, marker) {
				t.Errorf("the runner's line was left in stderr: %q", res.Stderr)
			}
		})
	}
}

// The program's own errors are ordinary exits, and a program that prints
// the runner's marker does not make a refusal of it.
func TestOrdinaryFailure(t *testing.T) {
	res := run(t, &moat.Spec{Args: []string{"-c", "raise ValueError('" + marker + "{\"kind\": \"refused\"}')"}})
	if res.Status != moat.StatusExited || res.ExitCode != 1 || !strings.Contains(res.Stderr, "ValueError") {
		t.Fatalf("status %s exit %d stderr %q", res.Status, res.ExitCode, res.Stderr)
	}
}

// A module of the program's own named like RestrictedPython's cannot
// replace the policy: nothing is imported from the working directory.
func TestNoShadowing(t *testing.T) {
	res := run(t, &moat.Spec{Args: []string{"-c", "import os\n"}, Files: map[string][]byte{
		"RestrictedPython.py": []byte("raise SystemExit('shadowed')\n")}})
	if res.Status != moat.StatusRefused {
		t.Fatalf("status %s stderr %q: the workspace's RestrictedPython.py was imported", res.Status, res.Stderr)
	}
}

// Without RestrictedPython, Check and Run say so plainly.
func TestMissing(t *testing.T) {
	moattest.RequireBackend(t, "native")
	old := fallbackPython
	fallbackPython = "/nonexistent/python3"
	defer func() { fallbackPython = old }()
	found.Clear()
	defer found.Clear()
	t.Setenv("PATH", t.TempDir()) // no python3 at all
	b := &Backend{}
	err := b.Check(context.Background())
	if err == nil || !errors.Is(err, moat.ErrUnavailable) || !strings.Contains(err.Error(), "no working RestrictedPython") || !strings.Contains(err.Error(), "python3-restrictedpython") {
		t.Fatalf("Check: %v", err)
	}
	if _, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", "print(1)"}}); err == nil || !errors.Is(err, moat.ErrUnavailable) {
		t.Fatalf("Run: %v", err)
	}
}

// -m and an image cannot be had.
func TestSupports(t *testing.T) {
	b := &Backend{}
	for _, s := range []*moat.Spec{{Args: []string{"-m", "json.tool"}}, {Args: []string{"-c", "1"}, Image: "python:3"}} {
		if err := b.Supports(s); !errors.Is(err, moat.ErrUnsupported) {
			t.Errorf("Supports(%v): %v", s.Args, err)
		}
	}
}
