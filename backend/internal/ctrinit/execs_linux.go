package ctrinit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

// The kernel's witness of executed programs and connections in a
// container. The exec shim that starts the program installs a seccomp
// filter (seccomp.InstallExecWatch: it needs no privilege under
// no_new_privs, which the engine sets) on top of the engine's profile and
// hands its listener to the init (startProgram): every execve, execveat
// and connect of the program's tree notifies the init, which reads the path and argv, or the address, from the
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
	fd     int
	own    int  // the init's own starts of the program still to come (the shim's exec)
	guard  bool // the filter is the guard (Header.Guard)
	report bool // send the 'k' frames (Report.Execs)
	mu     sync.Mutex
	// budget judges each event before it is sent (kbudget, as native's
	// supervisor does): each kind within its reserve, those of interest
	// past it, the rest counted (Walks.ExecsLost).
	budget kbudget.Budget
	hashes seccomp.ExecHashes // each version of a file hashed once
	socks  seccomp.Sockets    // the binds, for their listens
	execs  seccomp.ExecCheck  // what each exec ran, confirmed after it
}

// ran is the event of what a process ran after an exec that was not what
// the exec was read to run (seccomp.ExecCheck.Confirm; Call moat.ExecRan
// or moat.ExecSwapped), its file hashed through the kernel's link.
func (w *execWatch) ran(r seccomp.Ran) ExecEvent {
	if r.Hidden {
		ev := ExecEvent{PID: r.PID, Call: moat.ExecRan, Note: hiddenNote + r.Name}
		if pid, ppid := ids(strconv.Itoa(r.PID)); pid != 0 {
			ev.PID, ev.PPID = pid, ppid
		}
		return ev
	}
	defer r.File.Close()
	ev := ExecEvent{PID: r.PID, Call: moat.ExecRan, Path: r.Path, Note: "the witness could not open its name: " + r.Name}
	if r.Swapped {
		ev.Call, ev.Note = moat.ExecSwapped, "not the file the witness read (another file, or this one rewritten since) by the name: "+r.Name
	}
	if pid, ppid := ids(strconv.Itoa(r.PID)); pid != 0 {
		ev.PID, ev.PPID = pid, ppid
	}
	ev.SHA256, _ = w.hashes.Exec(r.File, nil)
	return ev
}

// sweep sends what each process that ran an exec and made no watched
// call since ran (seccomp.ExecCheck.Sweep): on a timer, at every signal
// sent in the container, and before the init kills everything. A nil
// watch (no witness) does nothing.
func (w *execWatch) sweep(in *initProc) {
	if w != nil {
		w.execs.SweepTo(func(r seccomp.Ran) { w.emit(in, w.ran(r)) })
	}
}

func (w *execWatch) serve(in *initProc) {
	self := os.Getpid()
	go func() {
		for {
			time.Sleep(seccomp.SweepEvery)
			w.sweep(in)
		}
	}()
	for {
		n, err := seccomp.Receive(w.fd)
		if err != nil {
			if err == unix.EINTR || err == unix.ENOENT {
				continue
			}
			return
		}
		// What an exec of the caller's process ran, before its next
		// call is answered (seccomp.ExecCheck).
		w.execs.Observe(n, func(r seccomp.Ran) { w.emit(in, w.ran(r)) })
		if seccomp.Exit(n) {
			_ = seccomp.Respond(w.fd, n.ID, 0) // notified for the check alone
			continue
		}
		if errno, name, ok := seccomp.GuardDenied(n); ok && w.guard {
			// Refused as the engine's profile refused it; what it was,
			// and by whom, is the kernel's word.
			ev := ExecEvent{Call: "denied", Name: name, Errno: int(errno), Args: [3]uint64{n.Args[0], n.Args[1], n.Args[2]}}
			ev.PID, ev.PPID = ids(strconv.Itoa(int(n.PID)))
			keep := name != "clone3" || !seccomp.Clone3Probe(n) // read before the answer
			_ = seccomp.Respond(w.fd, n.ID, errno)
			if ev.PID != self && keep {
				w.emit(in, ev)
			}
			continue
		}
		ev := w.read(n)
		// Answered only after the read: the caller waits until then.
		_ = seccomp.Respond(w.fd, n.ID, 0)
		if ev.Call == "bind" || ev.Call == "listen" {
			if ev.Proto == "" && ev.Inode == 0 {
				continue // opens no port (a client's bind, a Unix socket's)
			}
		} else if ev.Call == "connect" {
			if ev.Sockaddr == nil {
				continue // AF_UNSPEC (a disconnect) or no address
			}
		} else if ev.PPID == self && w.own > 0 {
			w.own--
			continue
		}
		w.emit(in, ev)
	}
}

// emit sends ev as a 'k' frame if the budget keeps it, or counts it;
// nothing without the report.
func (w *execWatch) emit(in *initProc, ev ExecEvent) {
	if !w.report {
		return
	}
	j, ok := judged(ev)
	if !ok {
		return // an address the host does not read: it would record nothing
	}
	w.mu.Lock()
	keep := w.budget.Keep(j)
	w.mu.Unlock()
	if keep {
		b, _ := json.Marshal(ev)
		in.send('k', b)
	}
}

// judged is ev as the budget judges it: the kind, process, path, command
// line or address the host records of it (container's execFrame), read
// as the host reads them; false for a connect to an address of a family
// the host does not read.
func judged(ev ExecEvent) (moat.Event, bool) {
	j := moat.Event{Source: moat.SourceKernel, PID: ev.PID, PPID: ev.PPID, Name: ev.Call}
	switch {
	case ev.Call == "denied":
		j.Kind, j.Name = moat.KindDenied, ev.Name
		if ev.Name == "socket" || ev.Name == "socketpair" {
			j.Kind = moat.KindSocket
		}
	case ev.Call == "bind" || ev.Call == "listen":
		j.Kind, j.Name = moat.KindListener, ev.Call
		j.Addr, _, _ = sockaddr(ev.Sockaddr) // "" not seen bound: every address
	case ev.Call == "connect":
		j.Kind = moat.KindConnect
		var ok bool
		if j.Addr, j.Path, ok = sockaddr(ev.Sockaddr); !ok {
			return j, false
		}
	default:
		j.Kind, j.Path, j.Detail = moat.KindExec, ev.Path, ev.Argv
		if ev.Failed {
			j.Kind = moat.KindExecFailed
		}
	}
	return j, true
}

// sockaddr names a connect's address for the budget: "a.b.c.d:port" for
// inet (and inet6 that maps one), "[h:h:h:h:h:h:h:h]:port" for inet6 (not
// shortened: the budget needs only the host and whether it is loopback,
// and the host names it itself), the path of a unix socket; false for
// another family or a short address, which the host does not read either
// (procmem.ParseSockaddr). Plain string work: net/netip is not for the
// init (package doc).
func sockaddr(b []byte) (addr, path string, ok bool) {
	if len(b) < 2 {
		return "", "", false
	}
	port := func() string { return strconv.Itoa(int(binary.BigEndian.Uint16(b[2:4]))) }
	v4 := func(ip []byte) string {
		return strconv.Itoa(int(ip[0])) + "." + strconv.Itoa(int(ip[1])) + "." + strconv.Itoa(int(ip[2])) + "." + strconv.Itoa(int(ip[3]))
	}
	switch binary.LittleEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) >= 8 {
			return v4(b[4:8]) + ":" + port(), "", true
		}
	case unix.AF_INET6:
		if len(b) >= 24 {
			ip := b[8:24]
			if string(ip[:12]) == "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff" {
				return v4(ip[12:]) + ":" + port(), "", true
			}
			g := make([]string, 8)
			for i := range g {
				g[i] = strconv.FormatUint(uint64(binary.BigEndian.Uint16(ip[2*i:])), 16)
			}
			return "[" + strings.Join(g, ":") + "]:" + port(), "", true
		}
	case unix.AF_UNIX:
		p := b[2:]
		if len(p) > 0 && p[0] == 0 {
			return "", "@" + string(p[1:]), true // abstract
		}
		if i := bytes.IndexByte(p, 0); i >= 0 {
			p = p[:i]
		}
		return "", string(p), true
	}
	return "", "", false
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
	pathArg, argvArg, envArg := n.Args[0], n.Args[1], n.Args[2]
	if ev.Call == "execveat" {
		pathArg, argvArg, envArg = n.Args[1], n.Args[2], n.Args[3]
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
	if ev.Call == "bind" || ev.Call == "listen" {
		// bind(fd, addr, addrlen), listen(fd, backlog); socketcall's
		// are the 32-bit words at args. What opens a port is sent
		// (seccomp.Sockets); the rest is sent as nothing.
		fd, addr, size := n.Args[0], n.Args[1], n.Args[2]
		if seccomp.Socketcall(n) {
			// bind's three words, listen's two (fd, backlog): no more
			// is read, so that arguments at a mapping's end are read.
			a := make([]byte, 12)
			if ev.Call == "listen" {
				a = a[:8]
			}
			fd, addr, size = ^uint64(0), 0, 0
			if k, _ := mem.ReadAt(a, int64(n.Args[1])); k == len(a) {
				fd = uint64(binary.LittleEndian.Uint32(a))
				if len(a) == 12 {
					addr, size = uint64(binary.LittleEndian.Uint32(a[4:])), uint64(binary.LittleEndian.Uint32(a[8:]))
				}
			}
		}
		var c seccomp.SocketCall
		var opens bool
		if ev.Call == "bind" {
			var raw []byte
			if addr != 0 && size >= 2 && uint32(size) >= 2 {
				b := make([]byte, min(uint32(size), MaxSockaddr))
				k, _ := mem.ReadAt(b, int64(addr))
				raw = b[:k]
			}
			c, opens = w.socks.Bind(int(n.PID), int32(fd), raw)
		} else {
			c, opens = w.socks.Listen(int(n.PID), int32(fd))
		}
		if opens {
			ev.Sockaddr, ev.Proto, ev.Inode = c.Sockaddr, c.Proto, c.Inode
			if ev.Proto == "" {
				ev.Proto = "?"
			}
		}
		return ev
	}
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
	raw := seccomp.ReadString(mem, pathArg, 4096)
	ev.Path = raw
	ev.Stdio = seccomp.StdioSockets(int(n.PID))
	ev.Argv = seccomp.ReadArgv(mem, argvArg)
	ev.Env = seccomp.LoaderEnv(mem, envArg)
	if !seccomp.IDValid(w.fd, n.ID) {
		ev.Note = "the caller died while it was read"
	}
	dirfd, flags := int32(unix.AT_FDCWD), uint64(0)
	if ev.Call == "execveat" {
		dirfd, flags = int32(n.Args[0]), n.Args[4]
	}
	switch {
	case raw == "" && flags&unix.AT_EMPTY_PATH != 0:
		// fexecve (a memfd, a deleted file): what runs is the
		// descriptor, named as the caller would name it.
		ev.Path = "/proc/self/fd/" + strconv.Itoa(int(dirfd))
		target, _ := os.Readlink("/proc/" + tid + "/fd/" + strconv.Itoa(int(dirfd)))
		ev.Note = strings.TrimPrefix(ev.Note+"; ", "; ") + "execveat of descriptor " + strconv.Itoa(int(dirfd)) + ", AT_EMPTY_PATH: " + target
	case raw != "" && !strings.HasPrefix(raw, "/"):
		// relative to the working directory, or to execveat's
		// directory: made whole, past PATH_MAX too (seccomp.DirName), or
		// said to be unnamed.
		dir := "/proc/" + tid + "/cwd"
		if dirfd != unix.AT_FDCWD {
			dir = "/proc/" + tid + "/fd/" + strconv.Itoa(int(dirfd))
		}
		d, err := os.Readlink(dir)
		if errors.Is(err, unix.ENAMETOOLONG) {
			d, err = seccomp.DirName(dir, "/proc/"+tid+"/root")
		}
		switch {
		case err == nil && strings.HasPrefix(d, "/") && !strings.HasSuffix(d, " (deleted)"):
			ev.Path = path.Join(d, raw)
		default:
			ev.Path = cwdUnnamed + "/" + raw
		}
	}
	// The file it runs, opened as the caller's kernel finds it (the
	// init shares the caller's root: seccomp.OpenExecShared), from its
	// directory (whatever the length of its name), hashed; or said not
	// to be runnable.
	f, err := seccomp.OpenExecShared(int(n.PID), dirfd, raw, flags)
	w.execs.Expect(int(n.PID), raw, f)
	if err != nil {
		ev.Failed = seccomp.ExecMissing(err)
		return ev
	}
	defer f.Close()
	ev.SHA256, ev.Failed = w.hashes.Exec(f, nil)
	if ev.SHA256 != "" {
		ev.Script = seccomp.ScriptLine(f)
		if interp := seccomp.ScriptInterpreter(ev.Script); interp != "" {
			fi, err := seccomp.OpenScriptInterpreter(int(n.PID), interp)
			ev.ScriptSHA256, _ = w.hashes.Exec(fi, err)
			if fi != nil {
				fi.Close()
			}
		}
	}
	return ev
}

// hiddenNote is procmem.HiddenNote (this package keeps procmem's
// dependencies out of the init): a process no longer readable after its
// exec (seccomp.Ran.Hidden).
const hiddenNote = "the process hid its memory after the exec (not dumpable): what ran is unknown; the name read: "

// cwdUnnamed starts a relative path whose directory could not be named
// (audit.CwdUnnamed, which the report calls incomplete; this package
// keeps the moat package out of the init).
const cwdUnnamed = "<cwd not named>"

// lost is what the budget only counted, by kind (Walks.ExecsLost).
func (w *execWatch) lost() map[string]int {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	m := map[string]int{}
	for k, n := range w.budget.Lost() {
		m[string(k)] = n
	}
	return m
}
