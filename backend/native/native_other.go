//go:build !linux

package native

import (
	"context"
	"fmt"

	"github.com/moat-sandbox/moat"
)

// Init does nothing off Linux.
func Init() {}

func run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	return nil, check()
}

func check() error {
	return fmt.Errorf("native: needs Linux namespaces: %w", moat.ErrUnavailable)
}

func describe() []string { return nil }
