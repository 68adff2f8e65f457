package moattest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// unsandboxedEnv makes the test binary run the suite against
// unsandboxed, a "backend" that runs Python straight on the host.
const unsandboxedEnv = "MOAT_TEST_UNSANDBOXED"

// unsandboxed runs the program on the host with no isolation at all: every
// containment case the suite has must catch it. Only the Spec fields the
// cases below use are honoured.
type unsandboxed struct{}

func (unsandboxed) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	dir, err := os.MkdirTemp("", "moat-unsandboxed-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for name, data := range spec.Files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	python := spec.Python
	if python == "" {
		python = "python3"
	}
	cmd := exec.CommandContext(ctx, python, spec.Args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, spec.Env, spec.Stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if spec.Stdout != nil {
		cmd.Stdout = io.MultiWriter(&out, spec.Stdout)
	}
	err = cmd.Run()
	res := &moat.Result{Status: moat.StatusExited, Stdout: out.String(), Stderr: errb.String(), Isolation: "unsandboxed"}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitCode = ee.ExitCode()
	} else if err != nil {
		return nil, err
	}
	return res, nil
}

// caughtCases are the containment cases that are safe to run with no
// sandbox at all (none changes the host), each of which must fail.
func caughtCases() []string {
	c := []string{"env", "host-files", "host-env", "host-proc", "signal-host", "inherited-fds",
		"capabilities", "tiocsti", "nosuid"}
	if os.Geteuid() == 0 {
		// Not oom-score-adj: a host may deny lowering it even to root
		// (this one does), so the case would pass without a sandbox.
		c = append(c, "uid")
	}
	return c
}

// TestSuiteCatchesNoSandbox checks that the suite is not vacuous: run in a
// child process against a backend that isolates nothing, every case of
// caughtCases fails.
func TestSuiteCatchesNoSandbox(t *testing.T) {
	if os.Getenv(unsandboxedEnv) != "" {
		Run(t, func() moat.Backend { return unsandboxed{} }, Options{Cases: caughtCases(), NonRoot: os.Geteuid() != 0})
		return
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skipf("no python3 on PATH: %v", err)
	}
	if testing.Short() {
		t.Skip("runs the suite in a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteCatchesNoSandbox$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), unsandboxedEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed a backend that isolates nothing:\n%s", out)
	}
	for _, c := range caughtCases() {
		failed := false
		for _, group := range []string{"conformance", "adversarial"} {
			failed = failed || bytes.Contains(out, []byte("--- FAIL: TestSuiteCatchesNoSandbox/"+group+"/"+c+" "))
		}
		if !failed {
			t.Errorf("case %s passed with no sandbox at all", c)
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", lastLines(string(out), 200))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
