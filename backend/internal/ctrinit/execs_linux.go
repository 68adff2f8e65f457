package ctrinit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path"
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
//
// With Header.Guard the filter is seccomp's guard instead: it also
// notifies for every call native denies, by the same argument checks
// (mount, unshare, ptrace, keyctl, bpf, ...; clone with namespace flags,
// socket families, TIOCSTI, O_NOATIME, personas; clone3, io_uring,
// openat2), which the engine's profile then lets through, since its
// errno would win over any notification; the init answers each with the
// errno the profile gave (ENOSYS for clone3 and openat2, so libc falls
// back) and sends it (Call "denied"; a clone3 only when its flags ask for
// a namespace), and does not start the program without the filter.

// execWatch serves the exec listener.
type execWatch struct {
	fd      int
	own     int  // the init's own starts of the program still to come
	guard   bool // the filter is the guard (Header.Guard)
	report  bool // send the 'k' frames (Report.Execs)
	mu      sync.Mutex
	sent    [3]int // execs, connects, denied calls: each kind has its own budget
	dropped int64
}

// watchExecs installs the filter (the guard when guard is set) and serves
// it until the init exits, sending what it sees when report is set; own
// is how many execs the init itself makes for the program, as its
// direct child (the program, and /proc/self/exe before it with
// RlimitAS): the first ones of its children, before any code of the
// program runs (their memory, the init's, is not readable: the init is
// not dumpable). It returns why it could not, "" when it does.
func (in *initProc) watchExecs(own int, guard, report bool) string {
	install := seccomp.InstallExecWatch
	if guard {
		install = seccomp.InstallGuard
	}
	fd, err := install()
	if err != nil {
		return err.Error()
	}
	w := &execWatch{fd: fd, own: own, guard: guard, report: report}
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
		if errno, name, ok := seccomp.GuardDenied(n); ok && w.guard {
			// Refused as the engine's profile refused it; what it was,
			// and by whom, is the kernel's word.
			ev := ExecEvent{Call: "denied", Name: name, Errno: int(errno), Args: [3]uint64{n.Args[0], n.Args[1], n.Args[2]}}
			ev.PID, ev.PPID = ids(strconv.Itoa(int(n.PID)))
			keep := name != "clone3" || !seccomp.Clone3Probe(n) // read before the answer
			_ = seccomp.Respond(w.fd, n.ID, errno)
			if ev.PID != self && keep {
				w.emit(in, 2, ev)
			}
			continue
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
		w.emit(in, kind, ev)
	}
}

// emit sends ev, of budget kind, as a 'k' frame, or counts it past its
// budget; nothing without the report.
func (w *execWatch) emit(in *initProc, kind int, ev ExecEvent) {
	if !w.report {
		return
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

// ids reads the thread group and parent of thread tid from /proc (0 for
// what it cannot read).
func ids(tid string) (pid, ppid int) {
	st, err := os.ReadFile("/proc/" + tid + "/status")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "Tgid:"); ok {
			pid, _ = strconv.Atoi(strings.TrimSpace(v))
		} else if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			ppid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return pid, ppid
}

// read takes what the notification n says from the caller's memory.
func (w *execWatch) read(n seccomp.Notif) ExecEvent {
	tid := strconv.Itoa(int(n.PID))
	ev := ExecEvent{PID: int(n.PID), Call: seccomp.WatchCall(n)}
	pathArg, argvArg := n.Args[0], n.Args[1]
	if ev.Call == "execveat" {
		pathArg, argvArg = n.Args[1], n.Args[2]
	}
	if pid, ppid := ids(tid); pid != 0 {
		ev.PID, ev.PPID = pid, ppid
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
	if ev.Path != "" && !strings.HasPrefix(ev.Path, "/") {
		// relative to the working directory, or to execveat's
		// directory: made whole, past PATH_MAX too (seccomp.DirName), or
		// said to be unnamed; only a whole path short enough to open is
		// looked at below.
		dir := "/proc/" + tid + "/cwd"
		if ev.Call == "execveat" && int32(n.Args[0]) != unix.AT_FDCWD {
			dir = "/proc/" + tid + "/fd/" + strconv.Itoa(int(int32(n.Args[0])))
		}
		d, err := os.Readlink(dir)
		if errors.Is(err, unix.ENAMETOOLONG) {
			d, err = seccomp.DirName(dir, "/proc/"+tid+"/root")
		}
		switch {
		case err == nil && strings.HasPrefix(d, "/") && !strings.HasSuffix(d, " (deleted)"):
			ev.Path = path.Join(d, ev.Path)
		case err != nil:
			ev.Path = cwdUnnamed + "/" + ev.Path
		}
	}
	if ev.Call == "execve" && strings.HasPrefix(ev.Path, "/") && len(ev.Path) < unix.PathMax {
		// In the caller's root (the container's: the same as the init's).
		// /proc/self and /proc/thread-self are the caller's, not this
		// process's (an exec of /proc/self/fd/N runs the caller's file).
		p := "/proc/" + tid + "/root" + ev.Path
		for _, self := range []string{"/proc/self/", "/proc/thread-self/"} {
			if rest, ok := strings.CutPrefix(ev.Path, self); ok {
				p = "/proc/" + tid + "/" + rest
			}
		}
		var st unix.Stat_t
		err := unix.Stat(p, &st)
		ev.Failed = err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP ||
			(err == nil && (st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0))
	}
	return ev
}

// cwdUnnamed starts a relative path whose directory could not be named
// (audit.CwdUnnamed, which the report calls incomplete; this package
// keeps the moat package out of the init).
const cwdUnnamed = "<cwd not named>"

// cut is how many execs and connects were only counted.
func (w *execWatch) cut() int64 {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}
