package ctrinit

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

// The kernel's witness of executed programs and connections in a
// container. Before the program starts, the init installs a seccomp
// filter of its own (seccomp.InstallExecWatch: it needs no privilege
// under no_new_privs, which the engine sets) on top of the engine's
// profile: every execve, execveat and connect of every process notifies
// the init, which reads the path and argv, or the address, from the
// caller's /proc/PID/mem (it is the caller's ancestor and its user),
// sends them as a 'k' frame (ExecEvent) and lets the call go on. The
// audit hook never sees what a static binary or ctypes execs or connects
// to; the kernel does, and the report compares the two. What is read is evidence,
// not a decision (another thread may change it meanwhile), and the host
// takes it as the program's word for every field but the fact of the
// exec, bounded and escaped.

// execWatch serves the exec listener.
type execWatch struct {
	fd      int
	own     int // the init's own starts of the program still to come
	mu      sync.Mutex
	sent    [2]int // execs, connects: each kind has its own budget
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
		kind := 0
		if ev.Call == "connect" {
			kind = 1
			if ev.Sockaddr == nil {
				continue // AF_UNSPEC (a disconnect) or no address
			}
		} else if ev.PPID == self && w.own > 0 {
			w.own--
			continue
		}
		w.mu.Lock()
		keep := w.sent[kind] < MaxExecEvents
		if keep {
			w.sent[kind]++
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
	ev := ExecEvent{PID: int(n.PID), Call: seccomp.WatchCall(n)}
	pathArg, argvArg := n.Args[0], n.Args[1]
	if ev.Call == "execveat" {
		pathArg, argvArg = n.Args[1], n.Args[2]
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
	if ev.Call == "connect" {
		// connect(fd, addr, addrlen): the address raw, decoded by the host.
		addr, size := n.Args[1], n.Args[2]
		if seccomp.Socketcall(n) {
			// socketcall(SYS_CONNECT, args): fd, addr and addrlen are
			// the 32-bit words at args.
			var a [12]byte
			addr, size = 0, 0
			if k, _ := mem.ReadAt(a[:], int64(n.Args[1])); k == len(a) {
				addr, size = uint64(binary.LittleEndian.Uint32(a[4:])), uint64(binary.LittleEndian.Uint32(a[8:]))
			}
		}
		if addr != 0 && size >= 2 && uint32(size) >= 2 {
			b := make([]byte, min(uint32(size), MaxSockaddr))
			k, _ := mem.ReadAt(b, int64(addr))
			if k >= 2 && !(b[0] == 0 && b[1] == 0) { // AF_UNSPEC: a disconnect
				ev.Sockaddr = b[:k]
			}
		}
		if !seccomp.IDValid(w.fd, n.ID) {
			ev.Note = "the caller died while it was read"
		}
		return ev
	}
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

// cut is how many execs and connects were only counted.
func (w *execWatch) cut() int64 {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}
