package microvm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"crypto/rand"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/sandbox/osthread"
)

// qemu boots VMs with QEMU's microvm machine: no PCI, no firmware, a
// virtio-mmio bus; the kernel is loaded directly.
//
// QEMU is confined: it runs as an unprivileged uid of its own per run
// (when moat is root; else as moat's user), with no supplementary groups
// but /dev/kvm's when KVM is used, in network and IPC namespaces of its
// own (when moat is root: no network at all), in an empty directory, under QEMU's own
// seccomp filter (qemuSandbox: no obsolete calls, no set*uid, no fork or
// exec, no scheduler or affinity changes). It opens nothing of moat's by
// path: the kernel, the initramfs, the runtime image, the console file, a
// saved state and both sockets (the guest's channel and QMP) are
// descriptors moat opened and passed to it. A QEMU the guest took over is
// then a process that can read what any user may read and little else; it
// cannot reach moat's cache, the run directories or other runs' VMs (each
// runs as another uid).
type qemu struct{}

// qemuSandbox is QEMU's -sandbox: its seccomp filter, installed before the
// guest runs.
const qemuSandbox = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

// The descriptors QEMU is given (ExtraFiles: 3 onwards), fixed so that
// its command line names them the same way every run.
const (
	fdChannel = 3 + iota
	fdConsole
	fdKernel
	fdInitrd
	fdRoot
	fdQMP
	fdIncoming
)

// qemuUIDBase..+qemuUIDs are the uids QEMU runs as when moat is root: one
// drawn at random per run, so that no two VMs share a uid (one VMM taken
// over cannot signal or trace another). No account has them on a usual
// system (they are above the sub-uid ranges of useradd's defaults).
const (
	qemuUIDBase = 0x7e000000
	qemuUIDs    = 1 << 20
)

func (q *qemu) name() string { return "qemu" }

func (q *qemu) binary() (string, error) {
	p, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return "", fmt.Errorf("qemu-system-x86_64 not found (apt-get install qemu-system-x86)")
	}
	return p, nil
}

func (q *qemu) version(ctx context.Context) (string, error) {
	bin, err := q.binary()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.TrimPrefix(line, "QEMU emulator version ")), nil
}

// sandboxSupported says whether this QEMU has -sandbox (built with
// libseccomp): it parses the option before it prints its version.
func (q *qemu) sandboxSupported(ctx context.Context) error {
	bin, err := q.binary()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-sandbox", qemuSandbox, "-version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -sandbox %s: %w: %s", bin, qemuSandbox, err, clean(strings.TrimSpace(string(out[:min(len(out), 300)]))))
	}
	return nil
}

// args is QEMU's command line for cfg. -nodefaults and -no-user-config:
// no device and no configuration file but these; no network device, no
// display; the serial console to a file; moat's port. Every file is a
// descriptor (see the fd constants): /proc/self/fd for the kernel and the
// initramfs (QEMU's loader opens them by name), an fd set for the image
// and the console.
func (q *qemu) args(cfg *vmConfig) []string {
	cpu := "max"
	if cfg.Accel == "kvm" {
		cpu = "host"
	}
	a := []string{
		"-name", cfg.Name,
		"-M", "microvm,accel=" + cfg.Accel + ",x-option-roms=off",
		"-cpu", cpu,
		"-m", fmt.Sprintf("%dM", cfg.MemoryMiB),
		"-smp", fmt.Sprint(cfg.CPUs),
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-add-fd", fmt.Sprintf("fd=%d,set=1", fdConsole),
		"-chardev", "file,id=console,path=/dev/fdset/1",
		"-serial", "chardev:console",
		"-kernel", fmt.Sprintf("/proc/self/fd/%d", fdKernel),
		"-initrd", fmt.Sprintf("/proc/self/fd/%d", fdInitrd),
		"-append", cfg.Cmdline,
		"-add-fd", fmt.Sprintf("fd=%d,set=2", fdRoot),
		"-drive", "file=/dev/fdset/2,if=none,id=root,format=raw,readonly=on",
		"-device", "virtio-blk-device,drive=root",
		"-device", "virtio-serial-device,max_ports=2",
		"-chardev", fmt.Sprintf("socket,id=moat,fd=%d", fdChannel),
		"-device", "virtserialport,chardev=moat,name=" + portName,
	}
	if !cfg.NoSandbox {
		a = append(a, "-sandbox", qemuSandbox)
	}
	if cfg.QMP {
		a = append(a, "-chardev", fmt.Sprintf("socket,id=qmp,fd=%d", fdQMP), "-mon", "chardev=qmp,mode=control")
	}
	if cfg.Incoming != "" {
		a = append(a, "-incoming", fmt.Sprintf("fd:%d", fdIncoming))
	}
	return a
}

type qemuMachine struct {
	cmd       *exec.Cmd
	done      chan struct{}
	err       error
	channel   *net.UnixConn
	qmp       *net.UnixConn
	uid       int
	closeOnce sync.Once
}

// socketPair returns the two ends of a connected Unix stream socket: moat's
// as a connection, QEMU's as a file to pass.
func socketPair(name string) (*net.UnixConn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s socket pair: %w", name, err)
	}
	ours := os.NewFile(uintptr(fds[0]), name)
	defer ours.Close()
	c, err := net.FileConn(ours)
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("%s socket: %w", name, err)
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), name), nil
}

// readable opens p for QEMU to reopen through /proc/self/fd as an
// unprivileged uid: p itself if everyone may read it, else a sealed
// in-memory copy (a kernel in /boot is often root's alone).
func readable(p string) (*os.File, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Mode().Perm()&0o004 != 0 && fi.Mode().IsRegular() {
		return f, nil
	}
	defer f.Close()
	fd, err := unix.MemfdCreate("moat-vm-file", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("copy %s for the VM: %w", p, err)
	}
	m := os.NewFile(uintptr(fd), "moat-vm-file")
	if _, err := io.Copy(m, f); err != nil {
		m.Close()
		return nil, fmt.Errorf("copy %s for the VM: %w", p, err)
	}
	if _, err := unix.FcntlInt(m.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		m.Close()
		return nil, fmt.Errorf("seal the copy of %s: %w", p, err)
	}
	return m, nil
}

// qemuCredential is the uid QEMU runs as: a fresh one of its own when moat
// is root, with /dev/kvm's group for KVM; nil (moat's own, not root) else.
func qemuCredential(accel string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	n, err := rand.Int(rand.Reader, big.NewInt(qemuUIDs))
	if err != nil {
		return nil, err
	}
	id := uint32(qemuUIDBase + n.Int64())
	c := &syscall.Credential{Uid: id, Gid: id, Groups: []uint32{}}
	if accel == "kvm" {
		var st unix.Stat_t
		if err := unix.Stat("/dev/kvm", &st); err == nil && st.Mode&0o006 != 0o006 {
			c.Groups = []uint32{st.Gid}
		}
	}
	return c, nil
}

// qemuKVMDenied says why QEMU, run as qemuCredential gives it, could not
// open /dev/kvm of this mode although moat can ("" when it can): as root,
// moat starts QEMU as a uid of its own whose only group is the device's,
// so the device must be read-write for its group or for all. A machine
// without udev leaves /dev/kvm at 0600 root:root (where udev makes it 0660
// for group kvm): QEMU would fail with "Permission denied" at every
// start, and the guest runs under TCG instead.
func qemuKVMDenied(mode uint32, root bool) string {
	if !root || mode&0o060 == 0o060 || mode&0o006 == 0o006 {
		return ""
	}
	return fmt.Sprintf("mode %04o: QEMU runs as a uid of its own and could not open it (udev makes it 0660, group kvm)", mode&0o7777)
}

// emptyDir is QEMU's working directory: empty, root's, read-only; for a
// moat that is not root, an empty directory of the run's own.
func emptyDir(runDir string) (string, error) {
	d := "/run/moat-microvm-empty"
	if os.Geteuid() != 0 {
		d = runDir + "/empty"
	}
	if err := os.Mkdir(d, 0o555); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	fi, err := os.Lstat(d)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o222 != 0 {
		return "", fmt.Errorf("%s is not an empty read-only directory of moat's", d)
	}
	if ents, err := os.ReadDir(d); err != nil || len(ents) > 0 {
		return "", fmt.Errorf("%s is not empty", d)
	}
	return d, nil
}

func (q *qemu) start(cfg *vmConfig) (machine, error) {
	bin, err := q.binary()
	if err != nil {
		return nil, err
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	log, err := os.OpenFile(cfg.Dir+"/qemu.log", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	files = append(files, log)
	m := &qemuMachine{done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			m.closeConns()
		}
	}()
	extra := make([]*os.File, fdIncoming-2)
	set := func(fd int, f *os.File) {
		extra[fd-3] = f
		files = append(files, f)
	}
	var vmEnd *os.File
	if m.channel, vmEnd, err = socketPair("channel"); err != nil {
		return nil, err
	}
	set(fdChannel, vmEnd)
	console, err := os.OpenFile(cfg.Console, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	set(fdConsole, console)
	for _, x := range []struct {
		fd   int
		path string
	}{{fdKernel, cfg.Kernel}, {fdInitrd, cfg.Initrd}} {
		f, err := readable(x.path)
		if err != nil {
			return nil, err
		}
		set(x.fd, f)
	}
	root, err := os.Open(cfg.Root)
	if err != nil {
		return nil, err
	}
	set(fdRoot, root)
	if cfg.QMP {
		if m.qmp, vmEnd, err = socketPair("qmp"); err != nil {
			return nil, err
		}
		set(fdQMP, vmEnd)
	}
	if cfg.Incoming != "" {
		in, err := os.Open(cfg.Incoming)
		if err != nil {
			return nil, err
		}
		set(fdIncoming, in)
	}
	cred, err := qemuCredential(cfg.Accel)
	if err != nil {
		return nil, err
	}
	dir, err := emptyDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("qemu's directory: %w", err)
	}
	cmd := exec.Command(bin, q.args(cfg)...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if cred != nil {
		// Network and IPC namespaces of its own, empty: the guest has no
		// network device and QEMU's sockets are descriptors, so a QEMU
		// the guest took over reaches neither the host's network (its
		// loopback services, the cloud's metadata address) nor the
		// host's System V shared memory.
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC
	}
	if err := osthread.Start(cmd); err != nil { // Pdeathsig: see osthread.Start
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	m.cmd = cmd
	if cred != nil {
		m.uid = int(cred.Uid)
	} else {
		m.uid = os.Geteuid()
	}
	ok = true
	go func() {
		m.err = cmd.Wait()
		if m.qmp != nil {
			m.qmp.Close()
		}
		close(m.done)
	}()
	return m, nil
}

func (m *qemuMachine) closeConns() {
	m.closeOnce.Do(func() {
		if m.channel != nil {
			m.channel.Close()
		}
		if m.qmp != nil {
			m.qmp.Close()
		}
	})
}

func (m *qemuMachine) Wait() error            { <-m.done; return m.err }
func (m *qemuMachine) Pid() int               { return m.cmd.Process.Pid }
func (m *qemuMachine) Channel() *net.UnixConn { return m.channel }
func (m *qemuMachine) QMP() *net.UnixConn     { return m.qmp }
func (m *qemuMachine) Kill() {
	select {
	case <-m.done:
	default:
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		_ = m.cmd.Process.Kill()
	}
}
