//go:build !freebsd

package jail

import (
	"context"
	"fmt"
	"runtime"

	"github.com/moat-sandbox/moat"
)

// Check: a jail needs a FreeBSD kernel.
func (b *Backend) Check(ctx context.Context) error {
	return fmt.Errorf("jail: FreeBSD jails exist on FreeBSD only, this host runs %s (%s): %w", runtime.GOOS, Unverified, moat.ErrUnavailable)
}

// Describe says the backend is unverified.
func (b *Backend) Describe(ctx context.Context) []string { return []string{Unverified} }

// Run refuses: see Check.
func (b *Backend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	return nil, b.Check(ctx)
}
