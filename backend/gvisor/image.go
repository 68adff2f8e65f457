package gvisor

import (
	"context"
	"fmt"

	"github.com/moat-sandbox/moat"
)

// runImage runs spec.Image under gVisor. Until it is wired to the docker
// backend (runsc as Docker's runtime), an image is refused: running the
// host's Python instead would silently ignore what was asked for.
func runImage(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	return nil, fmt.Errorf("gvisor: --image %q: images run through the docker backend with runtime runsc, which is not built in: %w", spec.Image, moat.ErrUnsupported)
}
