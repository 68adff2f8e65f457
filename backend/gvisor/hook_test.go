//go:build linux

package gvisor_test

import (
	"testing"

	"github.com/moat-sandbox/moat/moattest"
)

// TestGVisorHookBytecode: the audit hook comes from cached bytecode.
func TestGVisorHookBytecode(t *testing.T) {
	moattest.RequireBackend(t, "gvisor")
	moattest.HookBytecode(t, newBackend, false)
}
