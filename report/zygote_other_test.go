//go:build !linux

package report_test

import (
	"testing"

	"github.com/moat-sandbox/moat"
)

// zygoteBackend: the native zygote is Linux's.
func zygoteBackend(t *testing.T) moat.Backend {
	t.Skip("the native zygote needs Linux")
	return nil
}
