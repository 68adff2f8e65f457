//go:build linux && (amd64 || arm64)

package seccomp

import (
	"fmt"
	"slices"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The guard: the calls a container's init denies itself, so that the
// kernel sees them. Of two seccomp filters the kernel takes the most
// restrictive action, and an errno ranks above a user notification: a call
// the engine's profile answers with an errno never reaches a listener
// stacked on it. So the profile lets the [GuardNames] through (a
// container engine's profile of moat's: backend/internal/container), and
// the init's filter ([GuardProgram]) makes each of them notify; the init
// answers with the deny list's errno ([GuardDenied]) and records the
// call. Without the init's filter in place the program must never start:
// the profile alone no longer denies these calls.

// GuardNames are the calls of the deny list that it denies whatever their
// arguments, with an errno other than ENOSYS (those are probes that libc
// and runtimes make and fall back from, which the profile keeps
// answering), sorted; nil where the guard does not cover every calling
// convention of the architecture (arm64: its 32-bit numbers are not
// tabled).
func GuardNames() []string {
	if !guardArches {
		return nil
	}
	rules, _, err := activeRules()
	if err != nil {
		return nil
	}
	var names []string
	for _, r := range rules {
		if r.check == nil && r.errno != unix.ENOSYS {
			names = append(names, r.name)
		}
	}
	slices.Sort(names)
	return names
}

// guardNrs maps each calling convention's arch value to the numbers of
// the [GuardNames] there and their names.
func guardNrs() map[uint32]map[uint32]string {
	out := map[uint32]map[uint32]string{auditArch: {}}
	for _, name := range GuardNames() {
		nr := syscalls[name]
		out[auditArch][nr] = name
		if x32Bit != 0 {
			if x, ok := guardX32[name]; ok {
				out[auditArch][x32Bit|x] = name
			} else {
				out[auditArch][x32Bit|nr] = name
			}
		}
		if n, ok := guardI386[name]; ok {
			if out[unix.AUDIT_ARCH_I386] == nil {
				out[unix.AUDIT_ARCH_I386] = map[uint32]string{}
			}
			out[unix.AUDIT_ARCH_I386][n] = name
		}
	}
	return out
}

// GuardProgram is [ExecWatchProgram] that also notifies for every one of
// the [GuardNames], in every calling convention.
func GuardProgram() ([]bpf.RawInstruction, error) {
	if !guardArches {
		return nil, fmt.Errorf("seccomp: the guard does not cover every calling convention of %s", archName)
	}
	return watchProgram(guardNrs())
}

// GuardDenied says whether notification n is a call of the guard, and
// which: the deny list's errno to answer it with, and its name.
func GuardDenied(n Notif) (errno unix.Errno, name string, ok bool) {
	name, ok = guardNrs()[n.Arch][uint32(n.Nr)]
	if !ok {
		return 0, "", false
	}
	for _, r := range policy {
		if r.name == name {
			return r.errno, name, true
		}
	}
	return 0, "", false
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
