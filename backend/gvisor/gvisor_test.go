//go:build linux

package gvisor_test

import (
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/gvisor"
	"github.com/moat-sandbox/moat/moattest"
)

func newBackend() moat.Backend { return &gvisor.Backend{} }

func TestGVisor(t *testing.T) {
	moattest.RequireBackend(t, "gvisor")
	moattest.Run(t, newBackend, moattest.Options{
		Layers: []string{"gvisor", "read-only-runtime", "disk", "network-none", "user", "timeout", "output-limit"},
	})
}
