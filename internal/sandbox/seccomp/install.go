//go:build linux && (amd64 || arm64)

package seccomp

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Install sets no_new_privs and installs [Program] on all threads of the
// calling process (seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC)).
// If any thread cannot be synchronized nothing is installed and the error says
// which. It returns the number of denied syscall rules, len(Denied()), for
// reporting.
//
// Install cannot be undone; call it in the process that is about to exec the
// untrusted program, never in a long-lived parent.
func Install() (rules int, err error) {
	raw, err := Program()
	if err != nil {
		return 0, err
	}
	if err := installRaw(raw); err != nil {
		return 0, err
	}
	return len(Denied()), nil
}

// installRaw sets no_new_privs and installs raw on all threads of the
// calling process, or on none.
func installRaw(raw []bpf.RawInstruction) error {
	// The kernel reads struct sock_filter; copy rather than alias, so the
	// layout of bpf.RawInstruction is not a hidden assumption.
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}

	// no_new_privs and the seccomp call must happen on the same thread if
	// the fallback below is taken.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := setNoNewPrivs(); err != nil {
		return fmt.Errorf("seccomp: set no_new_privs: %w", err)
	}

	// With TSYNC the kernel installs the filter on every thread or on none.
	// It fails with a positive thread id when a thread cannot take the
	// filter (it already has an unrelated one), and with an errno otherwise.
	tid, _, errno := unix.Syscall(unix.SYS_SECCOMP,
		unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return fmt.Errorf("seccomp: install filter on all threads: %w", errno)
	}
	if tid != 0 {
		return fmt.Errorf("seccomp: install filter on all threads: thread %d cannot be synchronized", tid)
	}
	return nil
}

// setNoNewPrivs sets no_new_privs, which the kernel requires before an
// unprivileged process may install a filter, on every thread. In a binary
// built with cgo AllThreadsSyscall is not available; setting it on this
// thread is then enough, because TSYNC copies no_new_privs to the threads it
// synchronizes.
func setNoNewPrivs() error {
	_, _, errno := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0)
	if errno == syscall.ENOTSUP {
		return unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	if errno != 0 {
		return errno
	}
	return nil
}
