// Package native is moat's own sandbox: nothing to install, only the Linux
// kernel's namespaces, seccomp, Landlock, cgroups and rlimits.
//
// The parent (Backend.Run) re-executes the moat binary as the sandbox init
// in new user, mount, PID, network, IPC and UTS namespaces, in a fresh
// cgroup, and sends it one nsinit.Config. The init (internal/sandbox/nsinit)
// builds a root of
// read-only binds of the interpreter alone, a size-limited tmpfs for all
// writable space, a new /proc and a five-device /dev; drops every
// capability; applies Landlock and seccomp; and starts Python as an
// unprivileged user. It is pid 1: when it exits, the kernel kills every
// process left in the namespace, so nothing outlives a run.
//
// Backend.Prepare does that ahead of a run, for a warm pool
// (internal/pool, moat serve): up to the root, the cgroup and the
// network, and where the template allows, every layer too with Python
// started on a stub that waits for its program (nsinit.Prestart).
// Prepared.Run hands the program over; the stub runs it as the
// interpreter would have. The setup is the same code for both.
//
// Zygote (moat serve --zygote) is a lighter pool source for runs without
// the report: one interpreter started once in a sandbox of its own
// (zygote.py) forks a child per run, which enters namespaces, a cgroup,
// Landlock and seccomp of its own before it waits for its program; see
// docs/serve.md for what such a run shares with the others.
//
// Binaries using this backend must call Init first thing in main.
package native

import (
	"context"
	"fmt"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/sandbox/cgroup"
)

// Backend is the native sandbox. The zero value is ready to use.
type Backend struct{}

var (
	_ moat.Backend   = (*Backend)(nil)
	_ moat.Checker   = (*Backend)(nil)
	_ moat.Supporter = (*Backend)(nil)
	_ moat.Collector = (*Backend)(nil)
)

func init() {
	moat.Register("native", func() moat.Backend { return &Backend{} })
}

// Run runs spec in a new sandbox; see the package doc.
func (b *Backend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	return run(ctx, spec)
}

// Check reports whether the kernel lets this user create the namespaces.
func (b *Backend) Check(ctx context.Context) error {
	return check()
}

// Supports refuses an image: the native sandbox runs the host's Python.
// Every network mode is enforced here.
func (b *Backend) Supports(spec *moat.Spec) error {
	if spec.Image != "" {
		return fmt.Errorf("native: --image %q: the native sandbox runs the host's Python, not an image: %w", spec.Image, moat.ErrUnsupported)
	}
	return nil
}

// Collect removes the empty moat cgroups that killed runs left.
func (b *Backend) Collect(ctx context.Context) ([]string, error) {
	removed, err := cgroup.GC("moat-")
	for i, r := range removed {
		removed[i] = "cgroup " + r
	}
	return removed, err
}

// Describe lists what the sandbox can enforce here, for `moat backends`.
func (b *Backend) Describe(ctx context.Context) []string {
	return describe()
}
