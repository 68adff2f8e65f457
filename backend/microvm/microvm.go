// Package microvm runs the program in a small virtual machine of its own,
// with a kernel of its own: a kernel exploit breaks only a throwaway guest.
//
// moat boots one VM per run with QEMU's microvm machine (the qemu engine;
// KVM where /dev/kvm works, TCG emulation where it does not) or, when one
// is installed, Firecracker (the firecracker engine, driven through its API
// socket: built and unit-tested, not yet run for real; see docs/microvm.md).
//
// The guest has no writable disk and no systemd, and no shell unless
// Spec.Userland asks for the host's. It boots from an initramfs that moat
// builds itself (internal cpio writer) and caches by content: moat's own
// static binary as /init, which is the guest agent (see [Init]), and the
// virtio modules the kernel lacks, loaded by the agent, after which module
// loading is switched off. Its root is a read-only squashfs of the host's
// interpreter, its shared libraries and its standard library at their host
// paths (as pyrt finds them), with pyrt's userland and the interpreter's
// site directories when Spec.Userland asks (or an image's file system,
// --image). The agent
// mounts one tmpfs of Limits.Disk bytes for /work, /tmp, the home
// directory and /dev/shm, and runs the program as an unprivileged user
// with no capabilities, under native's seccomp deny list, in a guest cgroup
// that bounds memory, processes and CPU.
//
// QEMU itself runs as an unprivileged uid of its own, under its -sandbox
// seccomp filter, with its files and sockets passed as descriptors
// (qemu_linux.go).
//
// The only channel between guest and host is one virtio-serial port, a
// Unix socket on the host side that moat listens on: the job and the
// workspace go in, output, the exit and the work directory come out, in
// frames that moat bounds and treats as untrusted (proto.go). The guest
// has no network device, no vsock, no shared directory; with a sinkhole
// the agent is the sink, inside the guest (net_guest_linux.go). The
// behaviour report is made in the guest by the agent and sent after the
// exit, as the guest's word (report_guest_linux.go, report_linux.go).
// The wall clock, the output cap and cancellation kill the VM; nothing of
// the guest survives the run.
package microvm

import (
	"context"
	"fmt"
	"sync"

	"github.com/moat-sandbox/moat"
)

// Backend is the micro-VM backend. The zero value uses QEMU and finds the
// kernel (see [Backend.Kernel]).
type Backend struct {
	// Engine is "qemu" (the default) or "firecracker".
	Engine string
	// Kernel is the guest kernel (a bzImage, vmlinuz); "" uses the one
	// given to [SetKernel], else MOAT_MICROVM_KERNEL, else the newest /boot/vmlinuz-*, else the one
	// .ci/setup-microvm.sh fetched into /var/cache/moat/microvm/kernel or
	// ~/.cache/moat/microvm/kernel. Its modules are taken from a modules/
	// directory beside it, or from /lib/modules/RELEASE.
	Kernel string
}

var (
	_ moat.Backend    = (*Backend)(nil)
	_ moat.Checker    = (*Backend)(nil)
	_ moat.Describer  = (*Backend)(nil)
	_ moat.Supporter  = (*Backend)(nil)
	_ moat.AutoPicker = (*Backend)(nil)
	_ moat.Collector  = (*Backend)(nil)
)

func init() {
	moat.Register("microvm", func() moat.Backend { return &Backend{} })
}

var configured struct {
	sync.Mutex
	kernel string
}

// SetKernel sets the guest kernel of every Backend whose Kernel is "",
// over MOAT_MICROVM_KERNEL: `moat run --kernel` and a policy's kernel key.
// [CheckKernel] first: a kernel that will not boot is refused when the
// backend is checked.
func SetKernel(path string) {
	configured.Lock()
	configured.kernel = path
	configured.Unlock()
}

// kernel is the kernel asked for, "" to find one.
func (b *Backend) kernel() string {
	if b.Kernel != "" {
		return b.Kernel
	}
	configured.Lock()
	defer configured.Unlock()
	return configured.kernel
}

// host is what a run needs of this machine, found once per process.
type host struct {
	noSandbox     string // why this QEMU has no -sandbox, or ""
	engine        engine
	engineVersion string
	accel, kvmWhy string
	kernel        *Kernel
	self          string
}

// Run boots a VM for spec and runs it there; see the package doc.
func (b *Backend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	return b.run(ctx, spec)
}

// Check reports whether the engine, a kernel and its modules are here,
// and whether moat's binary can be the guest's init.
func (b *Backend) Check(ctx context.Context) error {
	_, err := b.host()
	return err
}

// AutoPick passes the backend over under `auto` when the VM would run
// under TCG emulation: it works, but a run takes seconds more than the
// other backends'.
func (b *Backend) AutoPick(ctx context.Context) error {
	h, err := b.host()
	if err != nil {
		return err
	}
	if h.accel != "kvm" {
		return fmt.Errorf("microvm: no KVM here (/dev/kvm: %s): the guest would run under TCG emulation, seconds per run; ask for it with --isolation microvm", h.kvmWhy)
	}
	return nil
}

// Supports refuses what the guest does not have: a network other than
// none or the sinkhole.
func (b *Backend) Supports(spec *moat.Spec) error {
	switch {
	case spec.Network != moat.NetworkNone && spec.Network != moat.NetworkSinkhole:
		return fmt.Errorf("microvm: network %q: only none and sinkhole (the guest has no network device) are built: %w", spec.Network, moat.ErrUnsupported)
	}
	return nil
}

// Collect removes what killed runs left; see [GC].
func (b *Backend) Collect(ctx context.Context) ([]string, error) { return GC(ctx) }

// Describe names the engine, the accelerator and the kernel.
func (b *Backend) Describe(ctx context.Context) []string {
	h, err := b.host()
	if err != nil {
		return []string{err.Error()}
	}
	notes := []string{fmt.Sprintf("engine %s (%s), accelerator %s", h.engine.name(), h.engineVersion, h.accel), "kernel " + h.kernel.Source}
	if h.accel != "kvm" {
		notes = append(notes, "auto passes it over: no KVM ("+h.kvmWhy+"), TCG emulation takes seconds per run")
	}
	if h.kernel.NoNet != "" {
		notes = append(notes, "no sinkhole: "+h.kernel.NoNet)
	}
	if h.engine.name() == "firecracker" {
		notes = append(notes, "firecracker engine unverified: it has not run on a real Firecracker here")
	}
	return notes
}
