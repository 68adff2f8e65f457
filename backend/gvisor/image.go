package gvisor

import (
	"context"
	"fmt"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/docker"
)

// runImage runs spec.Image under gVisor as the runtime of Docker: the
// docker backend with Runtime "runsc", whose hardening (read-only root,
// tmpfs, no capabilities, limits, no network) then sits on the Sentry
// instead of the host kernel. The daemon must have runsc registered
// (/etc/docker/daemon.json "runtimes"); if not, the run is refused with
// that reason rather than run on the host's Python.
func runImage(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	b := &docker.Backend{Runtime: "runsc", Name: "gvisor"}
	if err := b.Check(ctx); err != nil {
		return nil, fmt.Errorf("gvisor: --image %q runs through Docker with runtime runsc: %w", spec.Image, err)
	}
	return b.Run(ctx, spec)
}
