//go:build linux && (amd64 || arm64)

package seccomp

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// guardArgs are argument vectors that pass and fail each of the deny
// list's checks (namespace clone flags, TIOCSTI, O_NOATIME, F_SETFL,
// socket families and netlink protocols, personas), high words included.
var guardArgs = [][]uint64{
	{0, 0, 0},
	{sigchld, unix.TCGETS, unix.O_RDONLY},
	{unix.CLONE_NEWUSER | sigchld, unix.TIOCSTI, unix.O_NOATIME},
	{1<<40 | unix.CLONE_NEWNET, 1<<40 | unix.TIOCLINUX, 1<<40 | unix.O_NOATIME | unix.O_RDONLY},
	{unix.AF_VSOCK, unix.F_SETFL, unix.O_NOATIME},
	{unix.AF_INET, unix.F_SETFL, unix.O_NONBLOCK},
	{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE},
	{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_SOCK_DIAG},
	{1<<32 | unix.AF_UNIX, unix.F_GETFL, 0},
	{addrNoRandomize, 0, 0},
	{0xffffffff, 0, 0},
	{unix.AF_PACKET, unix.SOCK_RAW, 0},
}

// TestGuardProgram: the guard notifies for exactly what native's filter
// denies (Program), in every calling convention, whatever the arguments:
// the same checks; everything else is allowed, but execs and connects,
// which notify as in ExecWatchProgram. GuardDenied answers with the
// errno the container profile gave.
func TestGuardProgram(t *testing.T) {
	if !guardArches {
		if GuardNames() != nil {
			t.Fatal("GuardNames on an architecture the guard does not cover")
		}
		t.Skipf("the guard is off on %s", archName)
	}
	names := GuardNames()
	for _, want := range []string{"mount", "ptrace", "keyctl", "bpf", "unshare", "setns", "kexec_load", "init_module",
		"clone", "clone3", "socket", "socketpair", "ioctl", "io_uring_setup", "openat2", "open", "openat", "fcntl", "personality"} {
		if !slices.Contains(names, want) {
			t.Errorf("GuardNames lacks %s: %v", want, names)
		}
	}
	raw, err := GuardProgram()
	if err != nil {
		t.Fatal(err)
	}
	guard := vm(t, raw)
	plain, err := Program()
	if err != nil {
		t.Fatal(err)
	}
	native := vm(t, plain)
	run := func(name string, arch, nr uint32, args []uint64) uint32 {
		t.Helper()
		got, err := guard.Run(seccompData(arch, nr, args...))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return uint32(got)
	}
	watched := map[uint32]bool{unix.SYS_EXECVE: true, unix.SYS_EXECVEAT: true, unix.SYS_CONNECT: true, unix.SYS_BIND: true, unix.SYS_LISTEN: true}
	for _, nr := range endCalls() {
		watched[nr] = true // for ExecCheck alone
	}
	// The native convention: every number, against native's filter.
	for nr := uint32(0); nr < 600; nr++ {
		for _, args := range guardArgs {
			want := uint32(retAllow)
			if got, _ := native.Run(seccompData(auditArch, nr, args...)); uint32(got)&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_ERRNO || watched[nr] {
				want = retNotify
			}
			if got := run("native", auditArch, nr, args); got != want {
				t.Errorf("nr %d args %#x: %s, want %s", nr, args, action(got), action(want))
			}
		}
	}
	// The other conventions: each number of the guard's table decides as
	// native's number of the same call.
	for arch, calls := range guardCalls() {
		for nr, c := range calls {
			for _, args := range guardArgs {
				want := uint32(retAllow)
				if got, _ := native.Run(seccompData(auditArch, syscalls[c.name], args...)); uint32(got)&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_ERRNO {
					want = retNotify
				}
				if got := run(c.name, arch, nr, args); got != want {
					t.Errorf("%s (arch %#x nr %#x) args %#x: %s, want %s", c.name, arch, nr, args, action(got), action(want))
				}
			}
			errno, got, ok := GuardDenied(Notif{Arch: arch, Nr: int32(nr)})
			if !ok || got != c.name || errno == 0 {
				t.Errorf("GuardDenied(%s of arch %#x) = %v %q %v", c.name, arch, errno, got, ok)
			}
		}
	}
	if x32Bit != 0 {
		for _, c := range []struct {
			name     string
			arch, nr uint32
			args     []uint64
			want     uint32
		}{
			{"x32 ptrace", auditArch, x32Bit | 521, nil, retNotify},
			{"x32 ioctl TIOCSTI", auditArch, x32Bit | 514, []uint64{0, unix.TIOCSTI}, retNotify},
			{"x32 ioctl TCGETS", auditArch, x32Bit | 514, []uint64{0, unix.TCGETS}, retAllow},
			{"x32 socket vsock", auditArch, x32Bit | unix.SYS_SOCKET, []uint64{unix.AF_VSOCK}, retNotify},
			{"i386 unshare", unix.AUDIT_ARCH_I386, 310, nil, retNotify},
			{"i386 getpid", unix.AUDIT_ARCH_I386, 20, nil, retAllow},
			{"i386 fcntl64 F_SETFL O_NOATIME", unix.AUDIT_ARCH_I386, 221, []uint64{3, unix.F_SETFL, unix.O_NOATIME}, retNotify},
			{"i386 fcntl64 F_GETFL", unix.AUDIT_ARCH_I386, 221, []uint64{3, unix.F_GETFL}, retAllow},
			{"i386 clone thread", unix.AUDIT_ARCH_I386, 120, []uint64{unix.CLONE_VM | unix.CLONE_THREAD}, retAllow},
			{"i386 clone NEWNS", unix.AUDIT_ARCH_I386, 120, []uint64{unix.CLONE_NEWNS}, retNotify},
			{"i386 socket inet", unix.AUDIT_ARCH_I386, 359, []uint64{unix.AF_INET}, retAllow},
			{"i386 socket alg", unix.AUDIT_ARCH_I386, 359, []uint64{unix.AF_ALG}, retNotify},
			{"i386 socketcall connect", unix.AUDIT_ARCH_I386, 102, []uint64{sysConnect}, retNotify},
			{"i386 socketcall bind", unix.AUDIT_ARCH_I386, 102, []uint64{sysBind}, retNotify},
			{"i386 socketcall listen", unix.AUDIT_ARCH_I386, 102, []uint64{sysListen}, retNotify},
			{"i386 socketcall accept", unix.AUDIT_ARCH_I386, 102, []uint64{5}, retAllow},
			{"i386 bind", unix.AUDIT_ARCH_I386, 361, nil, retNotify},
			{"i386 listen", unix.AUDIT_ARCH_I386, 363, nil, retNotify},
			{"x32 bind", auditArch, x32Bit | unix.SYS_BIND, nil, retNotify},
			{"x32 listen", auditArch, x32Bit | unix.SYS_LISTEN, nil, retNotify},
			{"i386 execve", unix.AUDIT_ARCH_I386, 11, nil, retNotify},
		} {
			if got := run(c.name, c.arch, c.nr, c.args); got != c.want {
				t.Errorf("%s: %s, want %s", c.name, action(got), action(c.want))
			}
		}
	}
	for name, want := range map[string]unix.Errno{"mount": unix.EPERM, "socket": unix.EPERM, "io_uring_setup": unix.EPERM,
		"clone3": unix.ENOSYS, "openat2": unix.ENOSYS, "ioctl": unix.EPERM, "clone": unix.EPERM} {
		if errno, _, _ := GuardDenied(Notif{Arch: auditArch, Nr: int32(syscalls[name])}); errno != want {
			t.Errorf("GuardDenied(%s) answers %v, want %v", name, errno, want)
		}
	}
	if _, _, ok := GuardDenied(Notif{Arch: auditArch, Nr: unix.SYS_EXECVE}); ok {
		t.Error("GuardDenied takes execve")
	}
}
