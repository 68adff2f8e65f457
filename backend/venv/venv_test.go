package venv_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/venv"
	"github.com/moat-sandbox/moat/moattest"
)

// The conformance cases a backend without isolation can pass: the
// contract of Spec and Result (exit codes, output, stdin, arguments,
// environment, files, workspace in and out, timeout, output cap, signals,
// cancellation). The isolation cases (network, read-only runtime, memory,
// processes and disk as a whole, cleanup of a daemon that left the process
// group) and the adversarial suite are `moat audit`'s measure of it
// (audit's tests), where it fails them.
var cases = []string{"exit-code", "stdout-stderr", "stdin", "args", "env", "files", "workspace", "copy-out-caps",
	"limit-timeout", "limit-output", "signaled", "cancel", "concurrency", "layers"}

func TestVenv(t *testing.T) {
	moattest.RequireBackend(t, "venv")
	moattest.Run(t, func() moat.Backend { return &venv.Backend{} }, moattest.Options{
		Cases:  cases,
		Layers: []string{"venv", "process-group", "timeout", "output-limit", "rlimits", "private-workdir"},
	})
}

// The program runs in a fresh venv of its own, and its directory (venv,
// working directory, HOME, TMPDIR) is gone after the run.
func TestFreshVenvRemoved(t *testing.T) {
	b := moattest.RequireBackend(t, "venv")
	res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", "import os, sys; print(sys.prefix != sys.base_prefix, sys.prefix, os.getcwd(), os.environ['HOME'])"}})
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(res.Stdout)
	if res.Status != moat.StatusExited || len(f) != 4 || f[0] != "True" {
		t.Fatalf("status %s stdout %q stderr %q", res.Status, res.Stdout, res.Stderr)
	}
	for _, p := range f[1:] {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after the run (%v)", p, err)
		}
		if !strings.HasPrefix(p, filepath.Join(os.TempDir(), "moat-venv-")) {
			t.Errorf("%s is not in the run's own directory", p)
		}
	}
}

// A venv can enforce no network mode, nor run an image: it refuses.
func TestSupports(t *testing.T) {
	b := &venv.Backend{}
	for _, s := range []*moat.Spec{{Args: []string{"-c", "1"}, Network: moat.NetworkSinkhole}, {Args: []string{"-c", "1"}, Image: "python:3"}} {
		if err := b.Supports(s); !errors.Is(err, moat.ErrUnsupported) {
			t.Errorf("Supports: %v", err)
		}
	}
}

// auto never picks it.
func TestNeverAuto(t *testing.T) {
	for _, n := range moat.Strongest() {
		if n == "venv" {
			t.Fatal("venv is among the backends auto may pick")
		}
	}
}
