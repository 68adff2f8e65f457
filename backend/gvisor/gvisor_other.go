//go:build !linux

package gvisor

import (
	"context"
	"fmt"

	"github.com/moat-sandbox/moat"
)

var errNotLinux = fmt.Errorf("gvisor: runsc runs on Linux only: %w", moat.ErrUnavailable)

func (b *Backend) run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	return nil, errNotLinux
}

func (b *Backend) probe(ctx context.Context) (struct{}, error) { return struct{}{}, errNotLinux }

func (b *Backend) describe(ctx context.Context) []string { return []string{errNotLinux.Error()} }

// GC does nothing off Linux.
func GC(ctx context.Context) ([]string, error) { return nil, nil }

// Leftovers finds nothing off Linux.
func Leftovers() []string { return nil }
