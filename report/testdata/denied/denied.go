// Command denied makes, as a static binary with no Python in the way,
// calls every sandbox denies, and prints "LABEL RET ERRNO" for each (the
// corpus's denied_calls.py runs it): those refused whatever their
// arguments, those refused for their arguments, and those answered ENOSYS
// or left out.
package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	// Run as root outside a sandbox, mount and umount2 would act.
	if os.Getuid() == 0 {
		fmt.Println("refusing to run as root")
		os.Exit(2)
	}
	tmp, _ := unix.BytePtrFromString("/tmp")
	none, _ := unix.BytePtrFromString("none")
	tmpfs, _ := unix.BytePtrFromString("tmpfs")
	empty, _ := unix.BytePtrFromString("")
	hostname, _ := unix.BytePtrFromString("/etc/hostname")
	fd, err := unix.Open("/etc/hostname", unix.O_RDONLY, 0)
	if err != nil {
		fmt.Println("open /etc/hostname:", err)
		os.Exit(1)
	}
	var (
		one       = [1]byte{'x'}
		pair      [2]int32
		cloneArgs = [11]uint64{unix.CLONE_NEWUSER, 0, 0, 0, uint64(unix.SIGCHLD)}
		params    [120]byte
		how       [3]uint64
	)
	p := func(b *byte) uintptr { return uintptr(unsafe.Pointer(b)) }
	neg := func(n int) uintptr { return uintptr(n) }
	atFDCWD := neg(unix.AT_FDCWD)
	for _, c := range []struct {
		name string
		nr   uintptr
		args [6]uintptr
	}{
		{"mount", unix.SYS_MOUNT, [6]uintptr{p(none), p(tmp), p(tmpfs)}},
		{"umount2", unix.SYS_UMOUNT2, [6]uintptr{p(tmp)}},
		{"unshare", unix.SYS_UNSHARE, [6]uintptr{unix.CLONE_NEWUSER}},
		{"setns", unix.SYS_SETNS, [6]uintptr{0, unix.CLONE_NEWNET}},
		{"ptrace", unix.SYS_PTRACE, [6]uintptr{unix.PTRACE_ATTACH, 1}},
		{"keyctl", unix.SYS_KEYCTL, [6]uintptr{0, neg(-3)}},
		{"bpf", unix.SYS_BPF, [6]uintptr{5}},
		{"kexec_load", unix.SYS_KEXEC_LOAD, [6]uintptr{}},
		{"init_module", unix.SYS_INIT_MODULE, [6]uintptr{0, 0, p(empty)}},
		{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, [6]uintptr{0, 0, neg(-1), neg(-1)}},
		{"chroot", unix.SYS_CHROOT, [6]uintptr{p(tmp)}},
		{"clone-newuser", unix.SYS_CLONE, [6]uintptr{unix.CLONE_NEWUSER | uintptr(unix.SIGCHLD)}},
		{"clone3-newuser", unix.SYS_CLONE3, [6]uintptr{uintptr(unsafe.Pointer(&cloneArgs)), unsafe.Sizeof(cloneArgs)}},
		{"socket-vsock", unix.SYS_SOCKET, [6]uintptr{unix.AF_VSOCK, unix.SOCK_STREAM}},
		{"socket-packet", unix.SYS_SOCKET, [6]uintptr{unix.AF_PACKET, unix.SOCK_RAW}},
		{"socket-alg", unix.SYS_SOCKET, [6]uintptr{unix.AF_ALG, unix.SOCK_SEQPACKET}},
		{"socket-netlink-diag", unix.SYS_SOCKET, [6]uintptr{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_SOCK_DIAG}},
		{"socketpair-inet", unix.SYS_SOCKETPAIR, [6]uintptr{unix.AF_INET, unix.SOCK_STREAM, 0, uintptr(unsafe.Pointer(&pair))}},
		{"ioctl-tiocsti", unix.SYS_IOCTL, [6]uintptr{0, unix.TIOCSTI, p(&one[0])}},
		{"open-noatime", unix.SYS_OPEN, [6]uintptr{p(hostname), unix.O_NOATIME}},
		{"openat-noatime", unix.SYS_OPENAT, [6]uintptr{atFDCWD, p(hostname), unix.O_NOATIME}},
		{"fcntl-noatime", unix.SYS_FCNTL, [6]uintptr{uintptr(fd), unix.F_SETFL, unix.O_NOATIME}},
		{"personality", unix.SYS_PERSONALITY, [6]uintptr{0x0040000}}, // ADDR_NO_RANDOMIZE,
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, [6]uintptr{8, p(&params[0])}},
		{"openat2", unix.SYS_OPENAT2, [6]uintptr{atFDCWD, p(hostname), uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how)}},
	} {
		r, _, e := syscall.RawSyscall6(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5])
		if r == 0 && e == 0 && (c.nr == unix.SYS_CLONE || c.nr == unix.SYS_CLONE3) {
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0) // a clone that went through: the child
		}
		ret := int(r)
		if e != 0 {
			ret = -1
		}
		fmt.Println(c.name, ret, int(e))
	}
}
