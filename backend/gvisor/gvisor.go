// Package gvisor runs the program under gVisor's runsc: a user-space kernel
// (the Sentry) answers every system call, so the program never talks to the
// host kernel directly.
//
// Direct mode (the default) needs no daemon. For each run moat writes an OCI
// bundle under /run/moat/gvisor/<id>: a config.json built with the OCI
// runtime-spec types, whose read-only root holds the host interpreter alone,
// as native builds it (internal/sandbox/pyrt's Paths as read-only binds, its Links
// as symlinks; the root's skeleton is built once per interpreter and shared,
// /run/moat/gvisor/rootfs-<hash>). The writable space — /work, /tmp and the home
// directory — is one host tmpfs of seven eighths of Limits.Disk that moat mounts for the
// run and binds in, so --disk is enforced by the host kernel. /dev/shm is a
// tmpfs inside the Sentry of the last eighth, held in the Sentry's
// memory (so the memory limit counts it): through the gofer, named
// semaphores did not wake across processes. The workspace
// is copied onto it before the run and off it after (internal/transfer/treecopy; links
// are never followed). Then it runs
//
//	runsc --root /run/moat/gvisor/state --network=none --platform=P --ignore-cgroups run --bundle DIR ID
//
// (--network=host for a sinkhole, in a network namespace of the run's own
// where moat serves the sink: sink_linux.go), born in a fresh cgroup
// (internal/sandbox/cgroup; start_linux.go) that bounds
// memory, processes and CPU of the whole sandbox: runsc itself, the Sentry,
// the gofer and the program's stub processes, all born in it, so killing
// the group ends everything of the run. The platform is probed once:
// systrap, then ptrace (kvm only when asked for: nested KVM hangs on some
// hosts).
//
// MOAT_TRACE=1 prints the steps of a run and their times to stderr.
//
// Image mode (Spec.Image set) runs through the docker backend with runsc as
// the container runtime, when that backend is built in; otherwise the run is
// refused rather than run on the host's Python. A sinkhole there runs on
// runsc registered with Docker as runsc-hostinet (--network=host).
//
// Every bundle, scratch tmpfs, runsc container and cgroup is removed when the
// run ends for any reason; [GC] (`moat gc`) removes what a crashed moat left.
package gvisor

import (
	"context"
	"fmt"

	"github.com/moat-sandbox/moat"
)

// Backend is the gVisor backend. The zero value finds runsc on PATH and
// probes the platform.
type Backend struct {
	// Runsc is the runsc binary; "" looks on PATH, then /usr/bin and
	// /usr/local/bin.
	Runsc string
	// Platform forces a gVisor platform (systrap, ptrace, kvm); "" probes
	// systrap, then ptrace.
	Platform string
}

var (
	_ moat.Backend   = (*Backend)(nil)
	_ moat.Checker   = (*Backend)(nil)
	_ moat.Describer = (*Backend)(nil)
	_ moat.Supporter = (*Backend)(nil)
	_ moat.Collector = (*Backend)(nil)
)

func init() {
	moat.Register("gvisor", func() moat.Backend { return &Backend{} })
}

// Run runs spec in a new gVisor sandbox; see the package doc.
func (b *Backend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	return b.run(ctx, spec)
}

// Check reports whether runsc is installed, moat is root, and a platform
// works here.
func (b *Backend) Check(ctx context.Context) error {
	_, err := b.probe(ctx)
	return err
}

// Supports refuses the network mode allow=: runsc runs with
// --network=none, or for a sinkhole with --network=host in a network
// namespace of moat's where only moat's sink answers (sink_linux.go).
func (b *Backend) Supports(spec *moat.Spec) error {
	switch spec.Network {
	case moat.NetworkNone, moat.NetworkSinkhole:
		return nil
	}
	return fmt.Errorf("gvisor: network %q: only none and sinkhole are built: %w", spec.Network, moat.ErrUnsupported)
}

// Collect removes what killed runs left; see [GC].
func (b *Backend) Collect(ctx context.Context) ([]string, error) { return GC(ctx) }

// Describe lists the runsc version and platform, for `moat backends`.
func (b *Backend) Describe(ctx context.Context) []string {
	return b.describe(ctx)
}
