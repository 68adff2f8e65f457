// Package cgroup confines one sandbox run to a fresh control group: a memory
// ceiling with no escape into swap, a cap on processes and threads, a CPU
// bandwidth quota, and a way to kill everything the run started.
//
// A run uses it like this:
//
//	g, err := cgroup.New("moat-"+runID, cgroup.Limits{Memory: 512 << 20, Pids: 256, CPUs: 1})
//	if err != nil { ... }           // errors.Is(err, cgroup.ErrUnavailable): fail closed or degrade
//	defer g.Destroy()               // kills whatever is left, removes the directories
//	// start the child stopped (e.g. blocked on a sync pipe), then:
//	if err := g.AddProc(pid); err != nil { ... }
//	// let the child exec the untrusted program; everything it forks stays in the group
//	// (or, faster: e, _ := g.Entry(); start the child in it with e.Dir, or let it Enter(e.Self))
//	st, _ := g.Stats()              // after the run: peak memory, OOM kills, failed forks
//
// Both cgroup versions are supported. New reads /proc/self/mountinfo: when the
// memory controller is mounted as a v1 hierarchy (legacy or hybrid hosts) the
// group is one directory per v1 controller, <mount>/moat/<name>; otherwise, when
// a cgroup2 file system with controllers is mounted, it is one v2 directory,
// /sys/fs/cgroup/moat/<name> for root or <delegated subtree>/moat/<name> for
// other users (see [Probe]). The shared "moat" parent directory is created on
// first use and never removed, since concurrent runs may be creating groups in
// it.
//
// Invariants:
//   - A nonzero limit is either in force when New returns or New fails with an
//     error wrapping [ErrUnavailable] that names the controller; limits are
//     never silently dropped.
//   - When New fails, every directory it created for the group is removed.
//   - A memory limit also bounds swap where the kernel accounts swap
//     (memory.memsw.limit_in_bytes on v1, memory.swap.max = 0 on v2).
//   - The caller must add a process with AddProc (or let it enter through an
//     Entry) before it runs untrusted code;
//     children forked afterwards are born in the group and cannot leave it
//     unless they can write to cgroupfs, which the sandbox must prevent (mount
//     namespace, Landlock): the group directories belong to the moat user.
package cgroup

import "errors"

// ErrUnavailable means cgroups, or the one controller a nonzero limit needs,
// cannot be used on this host. The wrapping error says what is missing and,
// where known, how to fix it.
var ErrUnavailable = errors.New("cgroups unavailable")

// Limits are the resource limits of one group. A zero field means no limit on
// that resource; the caller (not this package) is responsible for defaults.
type Limits struct {
	Memory int64   // bytes of memory, and of memory plus swap where accounted; 0 = none
	Pids   int     // processes and threads together; 0 = none
	CPUs   float64 // CPU bandwidth in cores (1.5 = 150 ms per 100 ms period); 0 = none
}

// Stats are what the kernel counted for a group.
type Stats struct {
	// PeakMemory is the highest memory usage in bytes (v1
	// memory.max_usage_in_bytes, v2 memory.peak); 0 when the kernel does
	// not report it (v2 before Linux 5.19).
	PeakMemory int64
	// OOMKills is how many processes the OOM killer killed in the group.
	// On v1 kernels older than 4.13 memory.oom_control has no oom_kill
	// line; OOMKills is then -1 ("unknown") if the limit was ever hit
	// (memory.failcnt > 0) and 0 otherwise.
	OOMKills int64
	// PidsMaxHits is how many times a fork or clone failed because the
	// group was at pids.max.
	PidsMaxHits int64
}

// Group is one cgroup (v1: one directory per controller; v2: one directory)
// for a single sandbox run. Its methods may be called from several
// goroutines; Destroy may be called more than once.
type Group interface {
	// Version is the cgroup version in use, 1 or 2.
	Version() int
	// AddProc moves the process pid, with all its threads, into the group
	// (every controller's directory on v1). Such a move takes a global
	// lock that waits for an RCU grace period (milliseconds); a process
	// started for the group enters it faster through [Group.Entry].
	AddProc(pid int) error
	// Entry opens what lets a new process enter the group by itself; see
	// [Entry]. The caller closes it once the process has started.
	Entry() (*Entry, error)
	// Stats reads the kernel's counters for the group.
	Stats() (Stats, error)
	// Kill kills every process in the group and its descendant groups and
	// waits, for about a second at most, until none is left. It uses
	// cgroup.kill where the kernel has it (v2, Linux 5.14); otherwise it
	// freezes the group (when a freezer is available), sends SIGKILL to
	// each process listed in cgroup.procs and thaws, until the group is
	// empty.
	Kill() error
	// Destroy kills the group's processes, then removes every directory
	// New created for it. Calling it again does nothing.
	Destroy() error
	// Controllers names the controllers whose limits were set, in the
	// order memory, pids, cpu; an unlimited resource is not listed.
	Controllers() []string
}

// Info says what [New] would be able to do on this host.
type Info struct {
	// Version is the cgroup version New would use, 1 or 2.
	Version int
	// Base is the directory in which groups are created. On v1 it is the
	// one in the memory hierarchy; the other controllers use the same
	// relative path in their own hierarchies.
	Base string
	// Controllers lists which of memory, pids and cpu can be limited.
	Controllers []string
}
