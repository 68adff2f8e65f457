// Command denied makes, as a static binary with no Python in the way,
// calls every sandbox denies, and prints "NAME RET ERRNO" for each (the
// corpus's denied_calls.py runs it).
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
	p := func(b *byte) uintptr { return uintptr(unsafe.Pointer(b)) }
	neg := func(n int) uintptr { return uintptr(n) }
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
	} {
		r, _, e := syscall.RawSyscall6(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5])
		ret := int(r)
		if e != 0 {
			ret = -1
		}
		fmt.Println(c.name, ret, int(e))
	}
}
