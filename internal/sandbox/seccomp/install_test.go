//go:build linux && (amd64 || arm64)

package seccomp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The behavioural test installs the filter for real, which cannot be undone,
// so it never does so in the test runner: the test binary re-executes itself
// with helperEnv naming one case, and TestHelperProcess, in that child, runs
// it. filterEnv=0 runs the same case without the filter (the baseline).
const (
	helperEnv = "MOAT_SECCOMP_HELPER"
	filterEnv = "MOAT_SECCOMP_FILTER"
)

// A behaviour is one thing the helper tries after Install. want is "ok", an
// errno name, or "SIGSYS" when the process must be killed; an empty want
// marks a case that runs only inside another one. If baseline is set
// the case also runs without the filter, to show that the filter, not the
// environment, produced want.
type behaviour struct {
	name     string
	want     string
	baseline bool
	call     func() string
}

func errnoResult(err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

func rawResult(_, _ uintptr, errno syscall.Errno) string {
	if errno != 0 {
		return unix.ErrnoName(errno)
	}
	return "ok"
}

// ioctlRequest passes a full 64-bit request, high bits included; written as
// a variable so the conversion to uintptr happens at run time.
var ioctlRequest uint64 = 0xdeadbeef_00000000 | unix.TIOCSTI

// vsockHighBits is AF_VSOCK with bits set above the 32 the kernel reads.
var vsockHighBits uint64 = 0xdead0000_00000000 | unix.AF_VSOCK

// atFDCWD is AT_FDCWD as a raw syscall argument.
var atFDCWD = func() uintptr { fd := unix.AT_FDCWD; return uintptr(fd) }()

func fdResult(fd int, err error) string {
	if err == nil {
		unix.Close(fd)
	}
	return errnoResult(err)
}

func socketResult(family, typ, proto int) string {
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
	if err == nil {
		unix.Close(fd)
	}
	return errnoResult(err)
}

func behaviours() []behaviour {
	b := []behaviour{
		// Baseline: EINVAL, because a multithreaded process may not
		// unshare its user namespace.
		{"unshare-user", "EPERM", true, func() string {
			return errnoResult(unix.Unshare(unix.CLONE_NEWUSER))
		}},
		// Baseline: ENOENT, the target is looked up before privilege is checked.
		{"mount", "EPERM", true, func() string {
			return errnoResult(unix.Mount("none", "/nonexistent/moat-seccomp", "tmpfs", 0, ""))
		}},
		// Baseline: EOPNOTSUPP for an unknown operation.
		{"keyctl", "EPERM", true, func() string {
			return rawResult(unix.Syscall(unix.SYS_KEYCTL, 0xffff, 0, 0))
		}},
		// Baseline: EINVAL for an unknown command (EPERM if unprivileged bpf is off).
		{"bpf", "EPERM", true, func() string {
			return rawResult(unix.Syscall(unix.SYS_BPF, 0xffff, 0, 0))
		}},
		// Runs in a grandchild: see tracemeInChild.
		{"ptrace-traceme", "EPERM", false, tracemeInChild},
		{"ptrace-traceme-inner", "", false, func() string {
			r := rawResult(unix.Syscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0))
			if r == "ok" {
				// Report and go, before any signal stops this thread
				// to wait for its tracer.
				fmt.Println(resultPrefix + "traced")
				unix.Exit(0)
			}
			return r
		}},
		// Baseline: EFAULT or EINVAL.
		{"io_uring_setup", "ENOSYS", true, func() string {
			return rawResult(unix.Syscall(unix.SYS_IO_URING_SETUP, 0, 0, 0))
		}},
		// Baseline: EBADF.
		{"io_uring_enter", "ENOSYS", true, func() string {
			return rawResult(unix.Syscall6(unix.SYS_IO_URING_ENTER, ^uintptr(0), 0, 0, 0, 0, 0))
		}},
		// Baseline: EINVAL (size 0 is below CLONE_ARGS_SIZE_VER0).
		{"clone3", "ENOSYS", true, func() string {
			return rawResult(unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0))
		}},
		// CLONE_FS with CLONE_NEWUSER is always EINVAL in the kernel, so
		// even without the filter no child is ever created.
		{"clone-newuser", "EPERM", true, func() string {
			return rawResult(unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_FS, 0, 0, 0, 0, 0))
		}},
		{"clone-newuser-high-bits", "EPERM", true, func() string {
			return rawResult(unix.RawSyscall6(unix.SYS_CLONE, 1<<40|unix.CLONE_NEWUSER|unix.CLONE_FS, 0, 0, 0, 0, 0))
		}},
		// Stdin is /dev/null. Baseline: ENOTTY.
		{"ioctl-tiocsti", "EPERM", true, func() string {
			c := byte('x')
			return rawResult(unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c))))
		}},
		{"ioctl-tiocsti-high-bits", "EPERM", true, func() string {
			c := byte('x')
			return rawResult(unix.Syscall(unix.SYS_IOCTL, 0, uintptr(ioctlRequest), uintptr(unsafe.Pointer(&c))))
		}},
		{"ioctl-tioclinux", "EPERM", true, func() string {
			c := byte(0)
			return rawResult(unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCLINUX, uintptr(unsafe.Pointer(&c))))
		}},
		{"ioctl-tcgets", "ENOTTY", false, func() string {
			_, err := unix.IoctlGetTermios(0, unix.TCGETS)
			return errnoResult(err)
		}},
		{"personality-query", "ok", false, func() string {
			return rawResult(unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0))
		}},
		// Baseline: succeeds.
		{"personality-set", "EPERM", true, func() string {
			return rawResult(unix.Syscall(unix.SYS_PERSONALITY, addrNoRandomize, 0, 0))
		}},
		// Address families. Baselines: vsock and alg succeed where the
		// kernel has them; packet needs CAP_NET_RAW (the tests run as root).
		{"socket-vsock", "EAFNOSUPPORT", true, func() string { return socketResult(unix.AF_VSOCK, unix.SOCK_STREAM, 0) }},
		{"socket-vsock-high-bits", "EAFNOSUPPORT", true, func() string {
			return rawResult(unix.RawSyscall(unix.SYS_SOCKET, uintptr(vsockHighBits), unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0))
		}},
		// UDP-Lite passes the sink unrecorded (red team, session 19).
		{"socket-udplite", "EAFNOSUPPORT", true, func() string { return socketResult(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDPLITE) }},
		{"socket-packet", "EAFNOSUPPORT", true, func() string { return socketResult(unix.AF_PACKET, unix.SOCK_RAW, 0) }},
		{"socket-alg", "EAFNOSUPPORT", true, func() string { return socketResult(unix.AF_ALG, unix.SOCK_SEQPACKET, 0) }},
		{"socket-netlink-diag", "EAFNOSUPPORT", true, func() string {
			return socketResult(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_SOCK_DIAG)
		}},
		{"socketpair-vsock", "EAFNOSUPPORT", true, func() string {
			_, err := unix.Socketpair(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
			return errnoResult(err)
		}},
		{"socket-allowed", "ok", false, func() string {
			for _, f := range [][3]int{{unix.AF_UNIX, unix.SOCK_STREAM, 0}, {unix.AF_INET, unix.SOCK_DGRAM, 0},
				{unix.AF_INET6, unix.SOCK_STREAM, 0}, {unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE}} {
				if r := socketResult(f[0], f[1], f[2]); r != "ok" {
					return fmt.Sprintf("socket(%d, %d, %d): %s", f[0], f[1], f[2], r)
				}
			}
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				return "socketpair(AF_UNIX): " + errnoResult(err)
			}
			unix.Close(fds[0])
			unix.Close(fds[1])
			return "ok"
		}},
		// Baselines: ok (the tests run as root, whose CAP_FOWNER allows
		// O_NOATIME on any file), and EINVAL for openat2's zero size.
		{"openat-noatime", "EPERM", true, func() string {
			return fdResult(unix.Openat(unix.AT_FDCWD, "/dev/null", unix.O_RDONLY|unix.O_NOATIME|unix.O_CLOEXEC, 0))
		}},
		{"fcntl-setfl-noatime", "EPERM", true, func() string {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return "open: " + errnoResult(err)
			}
			defer unix.Close(fd)
			return rawResult(unix.Syscall(unix.SYS_FCNTL, uintptr(fd), unix.F_SETFL, unix.O_NOATIME))
		}},
		{"fcntl-setfl", "ok", false, func() string {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return "open: " + errnoResult(err)
			}
			defer unix.Close(fd)
			return rawResult(unix.Syscall(unix.SYS_FCNTL, uintptr(fd), unix.F_SETFL, unix.O_NONBLOCK))
		}},
		{"openat2", "ENOSYS", true, func() string {
			return rawResult(unix.Syscall6(unix.SYS_OPENAT2, atFDCWD, 0, 0, 0, 0, 0))
		}},
		{"ordinary", "ok", false, ordinary},
		// The filter survives exec: a fresh helper, told not to install
		// anything, still cannot unshare.
		{"exec-inherits", "EPERM", true, func() string {
			ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
			defer cancel()
			out, err := helperCommand(ctx, "unshare-user", false).Output()
			if err != nil {
				return fmt.Sprintf("exec helper: %v", err)
			}
			r, ok := parseResult(out)
			if !ok {
				return fmt.Sprintf("no result from helper: %q", out)
			}
			return r
		}},
	}
	if runtime.GOARCH == "amd64" {
		b = append(b, behaviour{"open-noatime", "EPERM", true, func() string {
			p, _ := unix.BytePtrFromString("/dev/null")
			r, _, errno := unix.Syscall(uintptr(syscalls["open"]), uintptr(unsafe.Pointer(p)), unix.O_RDONLY|unix.O_NOATIME|unix.O_CLOEXEC, 0)
			if errno == 0 {
				unix.Close(int(r))
			}
			return rawResult(0, 0, errno)
		}})
		// Baseline: ENOSYS (no x32 support) or a pid.
		b = append(b, behaviour{"x32-getpid", "SIGSYS", true, func() string {
			return rawResult(unix.RawSyscall(0x40000000|unix.SYS_GETPID, 0, 0, 0))
		}})
	}
	return b
}

// tracemeInChild runs PTRACE_TRACEME in a child helper (which inherits the
// filter) and returns its result. Should the filter let it through, the child
// thread becomes a tracee of its parent, and a tracee thread that exits must
// be reaped by its tracer with wait(__WALL), which os/exec never does: had
// the test runner been the parent it would hang for good. Here the parent is
// this helper, which does not wait for a traced child; when the helper exits,
// the kernel detaches the tracee and init reaps it.
func tracemeInChild() string {
	cmd := helperCommand(context.Background(), "ptrace-traceme-inner", false)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err.Error()
	}
	if err := cmd.Start(); err != nil {
		return err.Error()
	}
	out, _ := io.ReadAll(stdout)
	r, ok := parseResult(out)
	if r == "traced" {
		return r
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Sprintf("ptrace helper: %v", err)
	}
	if !ok {
		return fmt.Sprintf("no result from ptrace helper: %q", out)
	}
	return r
}

// ordinary does what any Python program does: getpid, files, fork and exec.
// os/exec forks with clone (no namespace flags), so this also shows the
// filter lets the Go runtime start processes.
func ordinary() string {
	if unix.Getpid() != os.Getpid() {
		return "getpid disagrees"
	}
	f, err := os.CreateTemp("", "moat-seccomp-*")
	if err != nil {
		return "create: " + errnoResult(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.WriteString("hello"); err != nil {
		return "write: " + errnoResult(err)
	}
	if got, err := os.ReadFile(f.Name()); err != nil || string(got) != "hello" {
		return fmt.Sprintf("read back %q: %v", got, err)
	}
	if err := exec.Command("/bin/true").Run(); err != nil {
		return "exec /bin/true: " + err.Error()
	}
	return "ok"
}

// helperTimeout bounds one helper, so that a broken filter fails the test
// rather than hanging it.
const helperTimeout = 30 * time.Second

func helperCommand(ctx context.Context, name string, filter bool) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.WaitDelay = time.Second
	f := "0"
	if filter {
		f = "1"
	}
	cmd.Env = append(os.Environ(), helperEnv+"="+name, filterEnv+"="+f)
	cmd.Stdin = nil // /dev/null: never a terminal that TIOCSTI could reach
	return cmd
}

const resultPrefix = "moat-seccomp-result: "

func parseResult(out []byte) (string, bool) {
	for _, line := range strings.Split(string(out), "\n") {
		if r, ok := strings.CutPrefix(line, resultPrefix); ok {
			return r, true
		}
	}
	return "", false
}

// TestHelperProcess is not a test: it is the body of the child process.
func TestHelperProcess(t *testing.T) {
	name := os.Getenv(helperEnv)
	if name == "" {
		return
	}
	var b *behaviour
	for _, c := range behaviours() {
		if c.name == name {
			b = &c
		}
	}
	if b == nil {
		fmt.Printf("unknown case %q\n", name)
		os.Exit(2)
	}

	// A thread that exists before Install: TSYNC must filter it as well.
	// Every case runs both there and on the installing thread.
	runtime.LockOSThread()
	work, done, tid := make(chan func() string), make(chan string), make(chan int)
	go func() {
		runtime.LockOSThread()
		tid <- unix.Gettid()
		for f := range work {
			done <- f()
		}
	}()
	if other := <-tid; other == unix.Gettid() {
		fmt.Println("helper threads are not distinct")
		os.Exit(2)
	}

	if os.Getenv(filterEnv) == "1" {
		n, err := Install()
		if err != nil {
			fmt.Printf("moat-seccomp-install: %v\n", err)
			if errors.Is(err, unix.ENOSYS) {
				os.Exit(4)
			}
			os.Exit(3)
		}
		if n != len(Denied()) {
			fmt.Printf("moat-seccomp-install: %d rules reported, Denied has %d\n", n, len(Denied()))
			os.Exit(3)
		}
	}
	here := b.call()
	work <- b.call
	there := <-done
	if here != there {
		here = fmt.Sprintf("installing thread: %s, other thread: %s", here, there)
	}
	fmt.Println(resultPrefix + here)
	os.Exit(0)
}

// run runs one case in a helper and returns its result, or "SIGSYS" if the
// helper was killed by the filter.
func run(t *testing.T, name string, filter bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	cmd := helperCommand(ctx, name, filter)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return strings.ToUpper(unix.SignalName(ws.Signal()))
		}
		switch exit.ExitCode() {
		case 4:
			t.Skipf("kernel has no seccomp filter support: %s", out.Bytes())
		case 3:
			t.Fatalf("Install: %s", out.Bytes())
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("helper %s did not finish in %v:\n%s", name, helperTimeout, out.Bytes())
	}
	if err != nil {
		t.Fatalf("helper %s: %v\n%s", name, err, out.Bytes())
	}
	r, ok := parseResult(out.Bytes())
	if !ok {
		t.Fatalf("helper %s printed no result:\n%s", name, out.Bytes())
	}
	return r
}

func TestInstall(t *testing.T) {
	if _, err := os.Stat("/bin/true"); err != nil {
		t.Skipf("need /bin/true for the exec case: %v", err)
	}
	for _, b := range behaviours() {
		if b.want == "" {
			continue // only run inside another case
		}
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			if got := run(t, b.name, true); got != b.want {
				t.Errorf("with filter: %s, want %s", got, b.want)
			}
			if !b.baseline {
				return
			}
			if got := run(t, b.name, false); got == b.want {
				t.Logf("inconclusive: without the filter the result is also %s on this host", got)
			} else {
				t.Logf("without filter: %s", got)
			}
		})
	}
}
