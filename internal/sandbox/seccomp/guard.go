//go:build linux && (amd64 || arm64)

package seccomp

import (
	"fmt"
	"slices"
	"sync"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The guard: the calls a container's init denies itself, so that the
// kernel sees them. Of two seccomp filters the kernel takes the most
// restrictive action, and an errno ranks above a user notification: a call
// the engine's profile answers with an errno never reaches a listener
// stacked on it. So the profile lets the [GuardNames] through, whatever
// their arguments (a container engine's profile of moat's:
// backend/internal/container), and the init's filter ([GuardProgram])
// makes each of them notify where the deny list refuses it (for clone,
// ioctl, socket, open, fcntl, personality: by the same argument checks);
// the init answers with the errno the engine's profile gave before
// ([GuardDenied]) and records the call. Without the init's filter in
// place the program must never start: the profile alone no longer denies
// these calls.

// GuardNames are the calls of the deny list ([Denied]), sorted: the
// container profile allows them to the guard. nil where the guard does
// not cover every calling convention of the architecture (arm64: its
// 32-bit numbers are not tabled).
func GuardNames() []string {
	if !guardArches {
		return nil
	}
	return Denied()
}

// guardCall is one call of the guard in one calling convention: it
// notifies always, or when check jumps to deny.
type guardCall struct {
	name  string
	check func(deny, allow label) []bpf.Instruction
}

// guardCalls maps each calling convention's arch value to its numbers of
// the deny list's calls. Arguments are registers in every convention and
// sit where the checks look (clone's flags are the first argument on i386
// too), so the checks are the deny list's.
var guardCalls = sync.OnceValue(func() map[uint32]map[uint32]guardCall {
	rules, nrs, err := activeRules()
	if err != nil || !guardArches {
		return nil
	}
	out := map[uint32]map[uint32]guardCall{auditArch: {}}
	for i, r := range rules {
		c := guardCall{name: r.name, check: r.check}
		out[auditArch][nrs[i]] = c
		if x32Bit != 0 {
			if x, ok := guardX32[r.name]; ok {
				out[auditArch][x32Bit|x] = c
			} else {
				out[auditArch][x32Bit|nrs[i]] = c
			}
		}
		for nr, name := range guardI386 {
			if name == r.name {
				if out[unix.AUDIT_ARCH_I386] == nil {
					out[unix.AUDIT_ARCH_I386] = map[uint32]guardCall{}
				}
				out[unix.AUDIT_ARCH_I386][nr] = c
			}
		}
	}
	return out
})

// GuardProgram is [ExecWatchProgram] that also notifies for every call
// the deny list refuses, in every calling convention.
func GuardProgram() ([]bpf.RawInstruction, error) {
	if !guardArches {
		return nil, fmt.Errorf("seccomp: the guard does not cover every calling convention of %s", archName)
	}
	calls := guardCalls()
	if calls == nil {
		return nil, fmt.Errorf("seccomp: no guard table for %s", archName)
	}
	return watchProgram(calls)
}

// engineErrno are the errnos of container profiles (moat's, in
// backend/internal/container) that differ from the deny list's: a socket
// family they refuse, and io_uring, which they leave out, fall to their
// default action, EPERM. The guard answers as they did.
var engineErrno = map[string]unix.Errno{
	"socket": unix.EPERM, "socketpair": unix.EPERM,
	"io_uring_setup": unix.EPERM, "io_uring_enter": unix.EPERM, "io_uring_register": unix.EPERM,
}

// GuardDenied says whether notification n is a call of the guard, and
// which: the errno to answer it with (the container profile's, which is
// the deny list's but for [engineErrno]; ENOSYS for clone3 and openat2,
// so libc falls back to clone and openat), and its name.
func GuardDenied(n Notif) (errno unix.Errno, name string, ok bool) {
	c, ok := guardCalls()[n.Arch][uint32(n.Nr)]
	if !ok {
		return 0, "", false
	}
	if e, ok := engineErrno[c.name]; ok {
		return e, c.name, true
	}
	for _, r := range policy {
		if r.name == c.name {
			return r.errno, c.name, true
		}
	}
	return 0, "", false
}

// guardSorted returns the numbers of calls, sorted.
func guardSorted(calls map[uint32]guardCall) []uint32 {
	nrs := make([]uint32, 0, len(calls))
	for nr := range calls {
		nrs = append(nrs, nr)
	}
	slices.Sort(nrs)
	return nrs
}

// InstallGuard installs [GuardProgram] as [InstallExecWatch] does its
// filter and returns the listener, which must be served from the first
// call of the program on: an unanswered call waits.
func InstallGuard() (listener int, err error) {
	raw, err := GuardProgram()
	if err != nil {
		return -1, err
	}
	return installListener(raw)
}
