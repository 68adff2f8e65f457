//go:build linux

package gvisor_test

import (
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/gvisor"
	"github.com/moat-sandbox/moat/moattest"
)

func newBackend() moat.Backend { return &gvisor.Backend{} }

// options are the suite's options for gVisor: the program runs on the
// Sentry, whose own devices (tty, ptmx, pts, fuse, net/tun) are emulated,
// not the host's.
func options() moattest.Options {
	return moattest.Options{
		Layers:    []string{"gvisor", "oci-bundle", "read-only-runtime", "disk", "network-none", "seccomp", "user", "rlimits", "timeout", "output-limit"},
		Container: &moattest.Container{ExtraDevices: []string{"tty", "ptmx", "pts", "fuse", "net"}},
		Sentry:    &moattest.Sentry{Leftovers: gvisor.Leftovers, MemoryOverhead: gvisor.SentryMemory},
	}
}

func TestGVisor(t *testing.T) {
	moattest.RequireBackend(t, "gvisor")
	moattest.Run(t, newBackend, options())
	if left := gvisor.Leftovers(); len(left) > 0 {
		t.Errorf("left on the host after the suite: %q", left)
	}
}
