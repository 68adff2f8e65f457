package moattest

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// HookBytecode checks that the audit hook, installed in a site directory
// (or a directory "py" on PYTHONPATH), is loaded from the
// bytecode moat compiled for the interpreter (internal/observe/audit.Compile, or
// the image's python3 for the container backends), not compiled at every
// start of Python.
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
	if !hookCode.MatchString(stderr.String()) {
		t.Fatalf("the hook was not loaded from bytecode:\n%s", stderr.String())
	}
}

var hookCode = regexp.MustCompile(`# code object from '/[^']*/__pycache__/(sitecustomize|` + audit.Module + `)\.`)
