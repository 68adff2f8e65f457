//go:build linux && (amd64 || arm64)

package seccomp

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGuardProgram: every call of the guard notifies, in every calling
// convention, and is answered with the deny list's errno; what the deny
// list checks by its arguments, or answers ENOSYS, and everything else
// does not notify (but execs and connects, as ExecWatchProgram).
func TestGuardProgram(t *testing.T) {
	if !guardArches {
		if GuardNames() != nil {
			t.Fatal("GuardNames on an architecture the guard does not cover")
		}
		t.Skipf("the guard is off on %s", archName)
	}
	names := GuardNames()
	for _, want := range []string{"mount", "ptrace", "keyctl", "bpf", "unshare", "setns", "kexec_load", "init_module"} {
		if !slices.Contains(names, want) {
			t.Errorf("GuardNames lacks %s: %v", want, names)
		}
	}
	for _, not := range []string{"clone", "clone3", "socket", "ioctl", "io_uring_setup", "openat2", "openat"} {
		if slices.Contains(names, not) {
			t.Errorf("GuardNames holds %s", not)
		}
	}
	raw, err := GuardProgram()
	if err != nil {
		t.Fatal(err)
	}
	v := vm(t, raw)
	check := func(what string, arch, nr, want uint32) {
		t.Helper()
		got, err := v.Run(seccompData(arch, nr))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if uint32(got) != want {
			t.Errorf("%s (arch %#x nr %d): %#x, want %#x", what, arch, nr, got, want)
		}
	}
	for arch, nrs := range guardNrs() {
		for nr, name := range nrs {
			check(name, arch, nr, retNotify)
			errno, got, ok := GuardDenied(Notif{Arch: arch, Nr: int32(nr)})
			if !ok || got != name || errno == 0 || errno == unix.ENOSYS {
				t.Errorf("GuardDenied(%s of arch %#x) = %v %q %v", name, arch, errno, got, ok)
			}
		}
	}
	check("mount", auditArch, syscalls["mount"], retNotify)
	check("getpid", auditArch, unix.SYS_GETPID, retAllow)
	check("openat", auditArch, unix.SYS_OPENAT, retAllow)
	check("clone", auditArch, unix.SYS_CLONE, retAllow)
	check("execve", auditArch, unix.SYS_EXECVE, retNotify)
	check("connect", auditArch, unix.SYS_CONNECT, retNotify)
	if _, _, ok := GuardDenied(Notif{Arch: auditArch, Nr: unix.SYS_EXECVE}); ok {
		t.Error("GuardDenied takes execve")
	}
	if x32Bit != 0 {
		check("x32 ptrace", auditArch, x32Bit|521, retNotify)
		check("i386 unshare", unix.AUDIT_ARCH_I386, 310, retNotify)
		check("i386 getpid", unix.AUDIT_ARCH_I386, 20, retAllow)
	}
}
