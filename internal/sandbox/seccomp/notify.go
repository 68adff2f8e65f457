//go:build linux && (amd64 || arm64)

package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Watched are the syscalls the notify filter reports and lets continue:
// every program start, every connection attempt and every socket bound or
// put to listen, whatever code makes them (Python, ctypes, a compiled
// binary). bind notifies for every socket (a filter cannot read the
// address, which is in memory); the supervisors record only what opens a
// port ([Sockets]), so a client library's bind of port 0 or a Unix
// socket's costs one round trip and no event.
var Watched = map[uint32]string{
	unix.SYS_EXECVE:   "execve",
	unix.SYS_EXECVEAT: "execveat",
	unix.SYS_CONNECT:  "connect",
	unix.SYS_BIND:     "bind",
	unix.SYS_LISTEN:   "listen",
}

const retNotify = unix.SECCOMP_RET_USER_NOTIF

// NotifyProgram returns the filter that [InstallNotify] installs: the same
// checks as [Program], except that every denial becomes a user
// notification (the supervisor answers it with the rule's errno, see
// [DenyErrno]) and that the [Watched] syscalls also notify (the supervisor
// lets them continue). The deny list and its argument checks are shared
// with Program; only the return actions differ.
func NotifyProgram() ([]bpf.RawInstruction, error) {
	src, err := source()
	if err != nil {
		return nil, err
	}
	var out []bpf.Instruction
	inserted := false
	const notify, tgkill, allow = label("notify"), label("tgkill"), label("allow-urg")
	for _, in := range src {
		if rc, ok := in.(bpf.RetConstant); ok {
			if !inserted && rc.Val == retAllow {
				// The default allow right after the jeq chain: A still
				// holds the syscall number.
				for _, nr := range append(sortedWatched(), endCalls()...) {
					t := notify
					if nr == unix.SYS_TGKILL {
						t = tgkill
					}
					out = append(out, jumpIf{cond: bpf.JumpEqual, val: nr, t: t})
				}
				inserted = true
			}
			if rc.Val&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_ERRNO {
				in = bpf.RetConstant{Val: retNotify}
			}
		}
		out = append(out, in)
	}
	if !inserted {
		return nil, errors.New("seccomp: notify: no default allow in the program")
	}
	out = append(out, tgkill)
	out = append(out, notURG(notify, allow)...)
	out = append(out, notify, bpf.RetConstant{Val: retNotify}, allow, bpf.RetConstant{Val: retAllow})
	return assemble(out)
}

// notURG notifies a tgkill(tgid, tid, sig) unless sig is SIGURG, which
// Go's runtime sends its own threads to preempt a goroutine (a supervisor
// or init in Go under the filter sends it before its listener is served)
// and which by default kills nothing.
func notURG(notify, allow label) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: argLow(2), Size: 4},
		jumpIf{cond: bpf.JumpEqual, val: uint32(unix.SIGURG), t: allow, f: notify},
	}
}

// endCalls are the calls after which a process that ran an exec may run
// no more of its code: its exit_group, a thread's exit (the last one's
// ends it), and those that send a signal (which may kill it). The filters
// notify them for [ExecCheck] alone ([Exit], [Signal]).
func endCalls() []uint32 {
	return []uint32{unix.SYS_EXIT_GROUP, unix.SYS_EXIT, unix.SYS_KILL, unix.SYS_TKILL, unix.SYS_TGKILL,
		unix.SYS_RT_SIGQUEUEINFO, unix.SYS_RT_TGSIGQUEUEINFO, unix.SYS_PIDFD_SEND_SIGNAL}
}

func sortedWatched() []uint32 {
	return []uint32{unix.SYS_EXECVE, unix.SYS_EXECVEAT, unix.SYS_CONNECT, unix.SYS_BIND, unix.SYS_LISTEN}
}

// DenyErrno returns the errno the deny list gives syscall nr, and its name;
// ok is false for a syscall the deny list does not name.
func DenyErrno(nr uint32) (errno unix.Errno, name string, ok bool) {
	rules, nrs, err := activeRules()
	if err != nil {
		return 0, "", false
	}
	for i, r := range rules {
		if nrs[i] == nr {
			return r.errno, r.name, true
		}
	}
	return 0, "", false
}

// InstallNotify is [Install] with [NotifyProgram]: it sets no_new_privs
// and installs the filter on every thread (TSYNC, with TSYNC_ESRCH so that
// the return value can be the listener), and returns the listener
// descriptor. Every notification must be answered with [Respond], or the
// calling thread waits; the caller must therefore serve the listener from
// a thread that never makes a notifying syscall itself. The caller's own
// threads are filtered too: a process that installs this and then forks
// and execs (as the sandbox init does) needs the listener served before.
//
// Needs Linux 5.7 (TSYNC_ESRCH; FLAG_CONTINUE is 5.5). On an older kernel
// it fails and installs nothing; the caller may then fall back to Install.
func InstallNotify() (listener int, rules int, err error) {
	raw, err := NotifyProgram()
	if err != nil {
		return -1, 0, err
	}
	fd, err := installListener(raw)
	if err != nil {
		return -1, 0, err
	}
	return fd, len(Denied()), nil
}

// ExecWatchProgram returns the filter that [InstallExecWatch] installs:
// every execve, execveat, connect, bind and listen, of every calling
// convention the kernel offers here (x32 and i386 on x86_64, 32-bit arm
// on arm64; i386's socketcall(SYS_CONNECT, SYS_BIND, SYS_LISTEN) too),
// notifies; everything else is allowed. It denies nothing: it goes on top
// of a filter that does (a container engine's), and only reports.
// [WatchCall] names what a notification of it is.
func ExecWatchProgram() ([]bpf.RawInstruction, error) { return watchProgram(nil) }

// watchProgram is ExecWatchProgram that also notifies for the calls of
// extra, by arch value and number: always, or where their check denies.
func watchProgram(extra map[uint32]map[uint32]guardCall) ([]bpf.RawInstruction, error) {
	const notify, allow = label("notify"), label("allow")
	calls := map[uint32]map[uint32]guardCall{}
	add := func(a, nr uint32, c guardCall) {
		if calls[a] == nil {
			calls[a] = map[uint32]guardCall{}
		}
		calls[a][nr] = c
	}
	for a, nrs := range extra {
		for nr, c := range nrs {
			add(a, nr, c)
		}
	}
	// Execs, connects, binds and listens notify whatever their arguments.
	for _, others := range []map[uint32][]uint32{execOther, connectOther, bindOther, listenOther} {
		for a, nrs := range others {
			for _, nr := range nrs {
				add(a, nr, guardCall{})
			}
		}
	}
	for _, nr := range sortedWatched() {
		add(auditArch, nr, guardCall{})
	}
	// A process's end, or a signal that may end one: the last moment
	// to confirm what an exec ran (ExecCheck), of every convention.
	for _, nr := range endCalls() {
		c := guardCall{}
		if nr == unix.SYS_TGKILL {
			c.check = notURG
		}
		add(auditArch, nr, c)
	}
	for _, others := range []map[uint32][]uint32{exitOther, signalOther} {
		for a, nrs := range others {
			for _, nr := range nrs {
				add(a, nr, guardCall{})
			}
		}
	}
	arches := make([]uint32, 0, len(calls))
	for a := range calls {
		if a != auditArch {
			arches = append(arches, a)
		}
	}
	for a := range socketcallOther {
		if _, ok := calls[a]; !ok && a != auditArch {
			arches = append(arches, a)
		}
	}
	slices.Sort(arches)
	archLabel := func(a uint32) label { return label(fmt.Sprintf("arch:%#x", a)) }
	checkLabel := func(a, nr uint32) label { return label(fmt.Sprintf("check:%#x:%d", a, nr)) }
	var checks []bpf.Instruction
	chain := func(a uint32) []bpf.Instruction {
		var p []bpf.Instruction
		for _, nr := range guardSorted(calls[a]) {
			c := calls[a][nr]
			if c.check == nil {
				p = append(p, jumpIf{cond: bpf.JumpEqual, val: nr, t: notify})
				continue
			}
			p = append(p, jumpIf{cond: bpf.JumpEqual, val: nr, t: checkLabel(a, nr)})
			checks = append(checks, checkLabel(a, nr))
			checks = append(checks, c.check(notify, allow)...)
		}
		return p
	}
	p := []bpf.Instruction{bpf.LoadAbsolute{Off: offArch, Size: 4}}
	for _, a := range arches {
		p = append(p, jumpIf{cond: bpf.JumpEqual, val: a, t: archLabel(a)})
	}
	p = append(p, jumpIf{cond: bpf.JumpEqual, val: auditArch, f: allow},
		bpf.LoadAbsolute{Off: offNr, Size: 4})
	p = append(p, chain(auditArch)...)
	p = append(p, jump(allow))
	for _, a := range arches {
		p = append(p, archLabel(a), bpf.LoadAbsolute{Off: offNr, Size: 4})
		p = append(p, chain(a)...)
		if nr, ok := socketcallOther[a]; ok {
			// socketcall(SYS_CONNECT, args): a connect too, and
			// SYS_BIND and SYS_LISTEN a bind and a listen. The call
			// number is an int: its low word is all that counts.
			p = append(p, jumpIf{cond: bpf.JumpEqual, val: nr, f: allow},
				bpf.LoadAbsolute{Off: argLow(0), Size: 4},
				jumpIf{cond: bpf.JumpEqual, val: sysConnect, t: notify},
				jumpIf{cond: bpf.JumpEqual, val: sysBind, t: notify},
				jumpIf{cond: bpf.JumpEqual, val: sysListen, t: notify})
		}
		p = append(p, jump(allow))
	}
	p = append(p, checks...)
	p = append(p, notify, bpf.RetConstant{Val: retNotify}, allow, bpf.RetConstant{Val: retAllow})
	return assemble(p)
}

// socketcall's call numbers of bind, connect and listen (SYS_BIND,
// SYS_CONNECT, SYS_LISTEN of <linux/net.h>).
const (
	sysBind    = 2
	sysConnect = 3
	sysListen  = 4
)

// Socketcall reports whether a notification of [ExecWatchProgram] is a
// socketcall(SYS_CONNECT, SYS_BIND or SYS_LISTEN, args) of a 32-bit
// calling convention: the call's fd, address and length (a listen's fd
// and backlog) are then the 32-bit words at Args[1] in the caller's
// memory, not its arguments.
func Socketcall(n Notif) bool {
	nr, ok := socketcallOther[n.Arch]
	return ok && uint32(n.Nr) == nr
}

// Exit reports whether n is an exit_group or a thread's exit, of any
// calling convention, which the filters notify for [ExecCheck.Confirm]
// alone: the supervisor confirms and lets it go on, and records nothing
// of it. [Signal]'s calls are Exit's too.
func Exit(n Notif) bool {
	nr := uint32(n.Nr)
	return n.Arch == auditArch && (nr == unix.SYS_EXIT_GROUP || nr == unix.SYS_EXIT) || slices.Contains(exitOther[n.Arch], nr) || Signal(n)
}

// Signal reports whether n sends a signal (kill, tkill, tgkill,
// rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal), of any calling
// convention: notified for [ExecCheck.Sweep] alone, before the signal can
// end a process whose exec is not confirmed yet.
func Signal(n Notif) bool {
	nr := uint32(n.Nr)
	return n.Arch == auditArch && slices.Contains(endCalls()[2:], nr) || slices.Contains(signalOther[n.Arch], nr)
}

// WatchCall names the system call of a notification of
// [ExecWatchProgram]: "connect", "bind", "listen" (socketcall's too),
// "execveat" or "execve".
func WatchCall(n Notif) string {
	nr := uint32(n.Nr)
	if Socketcall(n) {
		switch uint32(n.Args[0]) {
		case sysBind:
			return "bind"
		case sysListen:
			return "listen"
		}
		return "connect"
	}
	if n.Arch == auditArch && nr == unix.SYS_BIND || slices.Contains(bindOther[n.Arch], nr) {
		return "bind"
	}
	if n.Arch == auditArch && nr == unix.SYS_LISTEN || slices.Contains(listenOther[n.Arch], nr) {
		return "listen"
	}
	if n.Arch == auditArch && nr == unix.SYS_CONNECT || slices.Contains(connectOther[n.Arch], nr) {
		return "connect"
	}
	if n.Arch == auditArch && nr == unix.SYS_EXECVEAT || slices.Contains(execatOther[n.Arch], nr) {
		return "execveat"
	}
	return "execve"
}

// InstallExecWatch installs [ExecWatchProgram] as [InstallNotify] does
// its filter (no_new_privs, every thread) and returns the listener. It
// needs no privilege: a container's init, running as the program's user,
// uses it to see every program its processes start and every connection
// they attempt.
func InstallExecWatch() (listener int, err error) {
	raw, err := ExecWatchProgram()
	if err != nil {
		return -1, err
	}
	return installListener(raw)
}

// installListener installs raw on every thread with a listener.
func installListener(raw []bpf.RawInstruction) (int, error) {
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := setNoNewPrivs(); err != nil {
		return -1, fmt.Errorf("seccomp: set no_new_privs: %w", err)
	}
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC|unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH|unix.SECCOMP_FILTER_FLAG_NEW_LISTENER,
		uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return -1, fmt.Errorf("seccomp: install notify filter on all threads: %w", errno)
	}
	unix.CloseOnExec(int(fd))
	return int(fd), nil
}

// Notif is struct seccomp_notif: one syscall waiting for an answer.
type Notif struct {
	ID    uint64
	PID   uint32 // thread id, in the supervisor's pid namespace
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type notifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// Receive waits for the next notification. It returns ENOENT when the
// caller died before it could be read (retry), and EBADF/ENOTTY etc. when
// the listener is gone.
func Receive(listener int) (Notif, error) {
	var n Notif // the kernel wants it zeroed
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&n)))
	if errno != 0 {
		return Notif{}, errno
	}
	return n, nil
}

// Respond answers notification id: errno if non-zero, else let the
// syscall continue as if there were no filter (SECCOMP_USER_NOTIF_FLAG_CONTINUE;
// the kernel then runs it with the caller's own memory, so anything read
// from that memory before is evidence, not a decision: see the package doc).
func Respond(listener int, id uint64, errno unix.Errno) error {
	r := notifResp{ID: id}
	if errno != 0 {
		r.Error = -int32(errno)
	} else {
		r.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	}
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&r)))
	if e != 0 {
		return e
	}
	return nil
}

// IDValid reports whether notification id is still pending: after reading
// the caller's memory through /proc/PID/mem, it confirms that PID was
// still that caller (and not a reused pid) while it was read.
func IDValid(listener int, id uint64) bool {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(&id)))
	return e == 0
}
