package seccomp

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ExecCheck confirms, after an exec, which file it ran. A supervisor reads
// an exec's name from the caller's memory and opens the file it names
// (OpenExec) while the caller waits; the kernel then resolves the name
// again. Between the two another thread of the caller can rewrite the
// name in memory, or rename another file over it, and an exec named
// through a link the supervisor does not follow (/proc/self/cwd/x on
// native) cannot be opened at all. The kernel's own word on what ran is
// the process's /proc/PID/exe, which exists only after the exec. So:
//
//   - at the exec's notification, [ExecCheck.Expect] notes what the
//     caller ran before (its exe) and the files the exec was read to run
//     (the file, and for a script each interpreter its "#!" names);
//   - at the next notification of the same process (any watched call,
//     and its exit_group, which the filters notify for this alone),
//     [ExecCheck.Confirm] compares /proc/PID/exe with both: the file read,
//     unchanged since (its change time: a rewrite in place between the
//     two reads moves it), or the one before (a failed exec) is
//     confirmed; anything else is what ran instead, opened through the
//     kernel's link for its hash.
//
// The filters notify a thread's exit (SYS_exit: a process whose only
// thread ends so calls no exit_group) and every signal sent (kill, tkill,
// tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal: its own
// end, or a sibling's kill, of a process that made no watched call since
// its exec) for this alone: at an exit the caller is confirmed, at a
// signal every pending exec ([ExecCheck.Sweep]), before the call goes on.
// Sweep also runs on a timer, and before a supervisor kills the run's
// processes, so that a process that ran another file and only forks or
// waits is named while it lives. Red team, session 24: a dropped static
// program that wrote and ended by SYS_exit (or was killed by its parent)
// was never confirmed, and the report named the decoy alone.
//
// What is left: a process that dies by a signal no call sends (its own
// fault, a SIGPIPE, SIGXCPU, its parent-death signal, an alarm) before any
// watched call and before a sweep is never confirmed: its exec is known
// by the read alone. Safe for concurrent use; the zero value is ready.
type ExecCheck struct {
	mu      sync.Mutex
	seq     uint64
	pending map[int]pendingExec // by process id (tgid) in the supervisor's view
}

// maxPending bounds the processes with an exec still to confirm (those
// killed unconfirmed stay until their pid comes back).
const maxPending = 4096

type fileID struct{ dev, ino uint64 }

// version is what a rewrite in place changes: the change time moves with
// any write, chmod, link or unlink, and cannot be set back.
type version struct {
	ctime unix.Timespec
	size  int64
}

type pendingExec struct {
	seq    uint64   // which Expect noted it (Sweep takes only what it looked at)
	start  string   // the process's start time: a pid reused is another process
	before fileID   // its executable before the exec
	want   []fileID // what the exec was read to run
	file   version  // want[0]'s version when it was read
	strict bool     // want[0] is a format the kernel runs itself (see nativeFormat)
	mem    string   // its address space before the exec (memID)
	name   string   // the name read
	tid    int      // the thread that made the exec
}

// Ran is what a process ran after an exec that is not what the exec was
// read to run.
type Ran struct {
	PID int // the process (tgid) in the supervisor's view
	// Path is the kernel's name of what ran (/proc/PID/exe's link), as
	// the supervisor's root names it: the program's to choose, untrusted.
	Path string
	// File is that file, opened through the kernel's link (the very file
	// the process maps, whatever its name): the caller hashes and closes it.
	File *os.File
	// Name is the name the exec was read with.
	Name string
	// Swapped: the exec was read to run another file (its name changed
	// between the supervisor's read and the kernel's), or this file
	// before a rewrite in place. False where the exec's file could not be
	// read at all, or was of a format the kernel hands to a registered
	// interpreter (binfmt_misc: qemu-user for a foreign ELF, a JAR, ...),
	// which is then what runs.
	Swapped bool
	// Hidden: the process may no longer be read (it is not dumpable: it
	// ran a file its user may not read, or made itself so), so what ran
	// is unknown; Path is "" and File nil. Only a supervisor without
	// CAP_SYS_PTRACE (the containers' init) meets it.
	Hidden bool
}

// Expect notes, at the notification of an exec by thread tid and before
// its answer, that it was read as name, to run f (nil where it could not
// be opened). For a script it also opens the interpreters its "#!" names
// (as the kernel would, up to its four levels).
func (c *ExecCheck) Expect(tid int, name string, f *os.File) {
	pid := tgid(tid)
	if pid <= 0 {
		return
	}
	p := pendingExec{name: name, tid: tid}
	var ok bool
	if p.start, ok = startTime(pid); !ok {
		return
	}
	if p.before, ok = exeID(pid); !ok {
		return
	}
	p.mem = memID(pid)
	if f != nil {
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) != nil {
			return
		}
		p.want = append(p.want, fileID{dev: st.Dev, ino: st.Ino})
		p.file = version{ctime: st.Ctim, size: st.Size}
		p.strict = nativeFormat(f)
		line := ScriptLine(f)
		for depth := 0; depth < 4; depth++ {
			interp := ScriptInterpreter(line)
			if interp == "" {
				break
			}
			g, err := OpenScriptInterpreter(tid, interp)
			if err != nil {
				break
			}
			p.want = append(p.want, fdID(g))
			line = ScriptLine(g)
			g.Close()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		c.pending = map[int]pendingExec{}
	}
	c.seq++
	p.seq = c.seq
	if _, had := c.pending[pid]; !had && len(c.pending) >= maxPending {
		for k := range c.pending {
			delete(c.pending, k) // one arbitrary: its check is lost
			break
		}
	}
	c.pending[pid] = p
}

// Confirm checks, at a notification of thread tid after an exec of its
// process and before the answer, what the exec ran; ok is true and r says
// what when it was neither the file read nor the one before.
func (c *ExecCheck) Confirm(tid int) (r Ran, ok bool) {
	if c.Pending() == 0 {
		return Ran{}, false
	}
	pid := tgid(tid)
	c.mu.Lock()
	p, had := c.pending[pid]
	delete(c.pending, pid)
	c.mu.Unlock()
	if !had {
		return Ran{}, false
	}
	if s, _ := startTime(pid); s != p.start {
		return Ran{}, false // another process with the pid
	}
	mem := memID(pid) // before the exe, as Sweep reads them
	id, ok := exeID(pid)
	if !ok && hidden(pid) {
		return Ran{PID: pid, Name: p.name, Hidden: true}, true
	}
	if !ok || id == p.before && !p.again(mem) {
		if ok && tid != p.tid {
			// Another thread of the process calls while the exec is
			// not done yet: it says nothing of the exec, whose own
			// thread's next call (or a sweep, once the exe changed)
			// judges it. Taken for a failed exec, the check was lost to
			// a sibling's tgkill or connect made as the kernel switched
			// programs (red team, session 25: 8 swaps in 10 unseen).
			c.mu.Lock()
			if _, again := c.pending[pid]; !again {
				c.pending[pid] = p
			}
			c.mu.Unlock()
		}
		return Ran{}, false // failed (or ran the same file again)
	}
	return judge(pid, p, id)
}

// hidden: process pid's exe may not be read (EACCES: not dumpable to
// this reader), which it could be at its exec.
func hidden(pid int) bool {
	_, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)
}

// again: the exec p of a process whose exe is still the one before, and
// whose address space is now mem (memID, read before the exe), went
// through all the same: its address space is new, and the exec was
// read to run another file (or one the witness could not open). A name
// that flips to the caller's own program (python3 -c again, while the
// witness read a decoy) was taken for a failed exec (red team, session
// 24).
func (p pendingExec) again(mem string) bool {
	if len(p.want) > 0 && p.want[0] == p.before {
		return false // the same program again, as read
	}
	return p.mem != "" && mem != "" && mem != p.mem
}

// judge says what process pid, whose exe is id, ran after the exec p
// (Confirm).
func judge(pid int, p pendingExec, id fileID) (r Ran, ok bool) {
	inPlace := false
	for i, w := range p.want {
		if id == w && i > 0 {
			return Ran{}, false // a script's interpreter
		}
		inPlace = inPlace || id == w
	}
	proc := "/proc/" + strconv.Itoa(pid) + "/exe"
	f, err := os.OpenFile(proc, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return Ran{}, false
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || (fileID{dev: st.Dev, ino: st.Ino}) != id ||
		inPlace && (version{ctime: st.Ctim, size: st.Size}) == p.file {
		f.Close() // what was read ran (or the process moved on meanwhile: its next call says)
		return Ran{}, false
	}
	link, _ := os.Readlink(proc)
	return Ran{PID: pid, Path: link, File: f, Name: p.name, Swapped: p.strict}, true
}

// Sweep judges, outside any notification, the pending exec of every
// process whose exe is no longer the one before it: that exec is done
// (past the kernel's point of no return), and the exe changes again only
// by another exec, which notifies (and whose Confirm takes the entry
// first). A process whose exe is still the one before is left to its
// next call (its exec not done yet, or failed); one that is gone, or a
// zombie, is dropped unconfirmed. It returns what ran, as Confirm does.
func (c *ExecCheck) Sweep() []Ran {
	c.mu.Lock()
	look := make(map[int]pendingExec, len(c.pending))
	for pid, p := range c.pending {
		look[pid] = p
	}
	c.mu.Unlock()
	var out []Ran
	for pid, p := range look {
		s, _ := startTime(pid)
		mem := memID(pid) // before the exe: an exec done between the two reads shows in the exe
		id, ok := exeID(pid)
		if s == p.start && ok && id == p.before && !p.again(mem) {
			continue // not done yet, or failed: its next call says
		}
		c.mu.Lock()
		q, had := c.pending[pid]
		taken := had && q.seq == p.seq
		if taken {
			delete(c.pending, pid)
		}
		c.mu.Unlock()
		// Read before the take: no later exec of pid had been answered
		// (its Expect would have replaced the entry), so id is what p ran.
		if taken && s == p.start && !ok && hidden(pid) {
			out = append(out, Ran{PID: pid, Name: p.name, Hidden: true})
			continue
		}
		if !taken || s != p.start || !ok {
			continue // confirmed meanwhile; or gone (unconfirmed)
		}
		if r, ran := judge(pid, p, id); ran {
			out = append(out, r)
		}
	}
	return out
}

// SweepEvery is how often a supervisor sweeps the pending execs
// (SweepTo) while no signal is sent.
const SweepEvery = 100 * time.Millisecond

// SweepTo passes to keep what Sweep finds; with nothing pending it does
// nothing.
func (c *ExecCheck) SweepTo(keep func(Ran)) {
	if c.Pending() == 0 {
		return
	}
	for _, r := range c.Sweep() {
		keep(r)
	}
}

// Observe is the check's part of notification n, before its answer: what
// an exec of the caller's process ran (Confirm), and, at a signal sent,
// what every process's did (SweepTo), before the signal may end one not
// confirmed yet; each passed to keep. It says whether it swept.
func (c *ExecCheck) Observe(n Notif, keep func(Ran)) (swept bool) {
	if r, ok := c.Confirm(int(n.PID)); ok {
		keep(r)
	}
	if Signal(n) {
		c.SweepTo(keep)
		return true
	}
	return false
}

// Pending is how many processes have an exec still to confirm.
func (c *ExecCheck) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

func fdID(f *os.File) fileID {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return fileID{}
	}
	return fileID{dev: st.Dev, ino: st.Ino}
}

func exeID(pid int) (fileID, bool) {
	var st unix.Stat_t
	if unix.Stat("/proc/"+strconv.Itoa(pid)+"/exe", &st) != nil {
		return fileID{}, false
	}
	return fileID{dev: st.Dev, ino: st.Ino}, true
}

// tgid is the process of thread tid (its Tgid in /proc/TID/status).
func tgid(tid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(b), "\nTgid:")
	if !ok {
		return 0
	}
	v, _, _ := strings.Cut(rest, "\n")
	n, _ := strconv.Atoi(strings.TrimSpace(v))
	return n
}

// startTime is field 22 of /proc/PID/stat, the process's start in clock
// ticks after boot; a thread that execs takes its leader's.
func startTime(pid int) (string, bool) {
	f := statFields(pid)
	if len(f) < 20 {
		return "", false
	}
	return f[19], true
}

// statFields are the fields of /proc/PID/stat after the command's name
// (field 3 first); nil where it cannot be read.
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// memID names process pid's address space: where its stack starts and
// where its arguments and environment lie (fields 28 and 48 to 51 of
// /proc/PID/stat), which an exec that went through sets anew (the stack
// at a random place) and a failed one leaves as they were; "" where they
// cannot be read (the kernel shows them to a reader that may trace pid).
func memID(pid int) string {
	f := statFields(pid)
	if len(f) < 49 || f[25] == "0" && f[45] == "0" {
		return ""
	}
	return f[25] + " " + strings.Join(f[45:49], " ")
}

// nativeFormat: f is a file the kernel runs itself, an ELF of this
// machine (or of its compat convention) or a "#!" script, whose exe is
// then the file or its interpreter. Anything else may go to binfmt_misc.
func nativeFormat(f *os.File) bool {
	var h [20]byte
	n, _ := f.ReadAt(h[:], 0)
	if n >= 2 && h[0] == '#' && h[1] == '!' {
		return true
	}
	if n < 20 || string(h[:4]) != "\x7fELF" {
		return false
	}
	machine := uint16(h[18]) | uint16(h[19])<<8 // little-endian on both arches
	return slices.Contains(nativeMachines, machine)
}
