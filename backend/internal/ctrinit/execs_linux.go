package ctrinit

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

// The kernel's witness of executed programs in a container. Before the
// program starts, the init installs a seccomp filter of its own
// (seccomp.InstallExecWatch: it needs no privilege under no_new_privs,
// which the engine sets) on top of the engine's profile: every execve and
// execveat of every process notifies the init, which reads the path and
// argv from the caller's /proc/PID/mem (it is the caller's ancestor and
// its user), sends them as a 'k' frame (ExecEvent) and lets the call go
// on. The audit hook never sees what a static binary or ctypes execs; the
// kernel does, and the report compares the two. What is read is evidence,
// not a decision (another thread may change it meanwhile), and the host
// takes it as the program's word for every field but the fact of the
// exec, bounded and escaped.

// execWatch serves the exec listener.
type execWatch struct {
	fd      int
	own     int // the init's own starts of the program still to come
	mu      sync.Mutex
	sent    int
	dropped int64
}

// watchExecs installs the filter and serves it until the init exits;
// own is how many execs the init itself makes for the program, as its
// direct child (the program, and /proc/self/exe before it with
// RlimitAS): the first ones of its children, before any code of the
// program runs (their memory, the init's, is not readable: the init is
// not dumpable). It returns why it could not, "" when it does.
func (in *initProc) watchExecs(own int) string {
	fd, err := seccomp.InstallExecWatch()
	if err != nil {
		return err.Error()
	}
	w := &execWatch{fd: fd, own: own}
	in.execs = w
	go w.serve(in)
	return ""
}

func (w *execWatch) serve(in *initProc) {
	self := os.Getpid()
	for {
		n, err := seccomp.Receive(w.fd)
		if err != nil {
			if err == unix.EINTR || err == unix.ENOENT {
				continue
			}
			return
		}
		ev := w.read(n)
		// Answered only after the read: the caller waits until then.
		_ = seccomp.Respond(w.fd, n.ID, 0)
		if ev.PPID == self && w.own > 0 {
			w.own--
			continue
		}
		w.mu.Lock()
		keep := w.sent < MaxExecEvents
		if keep {
			w.sent++
		} else {
			w.dropped++
		}
		w.mu.Unlock()
		if keep {
			b, _ := json.Marshal(ev)
			in.send('k', b)
		}
	}
}

// read takes what the notification n says from the caller's memory.
func (w *execWatch) read(n seccomp.Notif) ExecEvent {
	tid := strconv.Itoa(int(n.PID))
	ev := ExecEvent{PID: int(n.PID), Call: "execve"}
	pathArg, argvArg := n.Args[0], n.Args[1]
	if !isExecve(n) {
		ev.Call, pathArg, argvArg = "execveat", n.Args[1], n.Args[2]
	}
	if st, err := os.ReadFile("/proc/" + tid + "/status"); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(l, "Tgid:"); ok {
				ev.PID, _ = strconv.Atoi(strings.TrimSpace(v))
			} else if v, ok := strings.CutPrefix(l, "PPid:"); ok {
				ev.PPID, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
	}
	mem, err := os.Open("/proc/" + tid + "/mem")
	if err != nil {
		ev.Note = "memory unreadable: " + err.Error()
		return ev
	}
	defer mem.Close()
	ev.Path = seccomp.ReadString(mem, pathArg, 4096)
	ev.Argv = seccomp.ReadArgv(mem, argvArg)
	if !seccomp.IDValid(w.fd, n.ID) {
		ev.Note = "the caller died while it was read"
	}
	if ev.Call == "execve" && strings.HasPrefix(ev.Path, "/") {
		// In the caller's root (the container's: the same as the init's).
		var st unix.Stat_t
		err := unix.Stat("/proc/"+tid+"/root"+ev.Path, &st)
		ev.Failed = err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP ||
			(err == nil && (st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0))
	}
	return ev
}

// isExecve: n is an execve (of any calling convention), not an execveat.
func isExecve(n seccomp.Notif) bool {
	switch n.Nr {
	case unix.SYS_EXECVEAT, 0x40000000 | 545, 358, 387: // native, x32, i386, arm
		return false
	}
	return true
}

// cut is how many execs were only counted.
func (w *execWatch) cut() int64 {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}
