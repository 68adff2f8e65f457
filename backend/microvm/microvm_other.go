//go:build !linux

package microvm

import (
	"context"
	"fmt"

	"github.com/moat-sandbox/moat"
)

var errNotLinux = fmt.Errorf("microvm: moat boots its micro-VMs on Linux only: %w", moat.ErrUnavailable)

func (b *Backend) run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	return nil, errNotLinux
}

func (b *Backend) host() (*host, error) { return nil, errNotLinux }

// Init does nothing off Linux.
func Init() {}

// Leftovers finds nothing off Linux.
func Leftovers() []string { return nil }

// GC does nothing off Linux.
func GC(ctx context.Context) ([]string, error) { return nil, nil }
