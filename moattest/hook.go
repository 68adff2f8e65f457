package moattest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// HookBytecode checks, for a backend that runs the host's interpreter,
// that the audit hook is loaded from the bytecode moat compiled for it
// (internal/audit.Compile), not compiled at every start of Python.
func HookBytecode(t *testing.T, newBackend func() moat.Backend, allowDegraded bool) {
	t.Helper()
	var stderr bytes.Buffer
	spec := &moat.Spec{Args: []string{"-c", "pass"}, Env: []string{"PYTHONVERBOSE=1"}, Stderr: &stderr, AllowDegraded: allowDegraded}
	res, err := newBackend().Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		t.Fatalf("status %s exit %d: %s", res.Status, res.ExitCode, stderr.String())
	}
	if !strings.Contains(stderr.String(), "# code object from '/.moat/py/__pycache__/sitecustomize.") {
		t.Fatalf("the hook was not loaded from bytecode:\n%s", stderr.String())
	}
}
