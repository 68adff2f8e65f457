package gvisor

import (
	"context"
	"fmt"

	"github.com/moat-sandbox/moat"
)

// runtimeRunner is a container backend that can run its containers on
// another OCI runtime registered with its engine: the docker backend. It
// is found through the registry, not imported, so gVisor depends on no
// other backend's package.
type runtimeRunner interface {
	OnRuntime(name, runtime string) moat.Backend
}

// runImage runs spec.Image under gVisor as the runtime of Docker: the
// docker backend with runtime "runsc", whose hardening (read-only root,
// tmpfs, no capabilities, limits, no network) then sits on the Sentry
// instead of the host kernel. The daemon must have runsc registered
// (/etc/docker/daemon.json "runtimes"); if not, the run is refused with
// that reason rather than run on the host's Python. A sinkhole runs on the
// runtime registered as hostinetRuntime, runsc with --network=host, which
// the docker backend checks at the daemon before it serves the sink in
// the container's network namespace.
// hostinetRuntime is docker.HostinetRuntime (not imported: see above).
const hostinetRuntime = "runsc-hostinet"

func runImage(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	b, err := imageBackend(ctx, spec)
	if err != nil {
		return nil, err
	}
	return b.Run(ctx, spec)
}

// imageBackend is the docker backend on runsc for spec: see runImage.
func imageBackend(ctx context.Context, spec *moat.Spec) (moat.Backend, error) {
	d, err := moat.Get("docker")
	if err != nil {
		return nil, fmt.Errorf("gvisor: --image %q runs through Docker, which this build lacks: %w", spec.Image, err)
	}
	rr, ok := d.(runtimeRunner)
	if !ok {
		return nil, fmt.Errorf("gvisor: --image %q: the docker backend cannot choose a runtime: %w", spec.Image, moat.ErrUnavailable)
	}
	runtime := "runsc"
	if spec.Network == moat.NetworkSinkhole {
		// The sink is served in the container's network namespace, which
		// the program's flows reach only with gVisor's hostinet.
		runtime = hostinetRuntime
	}
	b := rr.OnRuntime("gvisor", runtime)
	if err := moat.Check(ctx, b); err != nil {
		return nil, fmt.Errorf("gvisor: --image %q runs through Docker with runtime %s: %w", spec.Image, runtime, err)
	}
	return b, nil
}

var _ moat.Preparer = (*Backend)(nil)

// Prepare keeps a sandbox ready for runs like tmpl (a warm pool; see
// moat.Preparer): in image mode only, a container of tmpl.Image that
// Docker started on runsc, its init waiting for the program (the docker
// backend's Prepare). A direct run (no image) is not prepared: its
// bundle, scratch tmpfs and cgroup are made per run, and runsc starts the
// Sentry and the program together.
func (b *Backend) Prepare(ctx context.Context, tmpl *moat.Spec) (moat.Prepared, error) {
	if tmpl.Image == "" {
		return nil, fmt.Errorf("gvisor: only a run of an image (through Docker's runsc) is prepared ahead, not a direct run of the host's Python: %w", moat.ErrUnsupported)
	}
	ib, err := imageBackend(ctx, tmpl)
	if err != nil {
		return nil, err
	}
	p, ok := ib.(moat.Preparer)
	if !ok {
		return nil, fmt.Errorf("gvisor: --image %q: the docker backend prepares nothing ahead: %w", tmpl.Image, moat.ErrUnsupported)
	}
	return p.Prepare(ctx, tmpl)
}
