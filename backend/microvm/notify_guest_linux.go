package microvm

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp/procmem"
)

// The guest kernel's events, as native has them. With the report on, the
// agent does not start the interpreter itself: it starts moat's own
// binary (/proc/self/exe) as a shim, already the sandbox user in the
// program's cgroup, with one end of a socket pair at fd 3. The shim
// installs native's deny list as seccomp.NotifyProgram (every denial a
// user notification, answered with the rule's errno; every execve,
// execveat and connect notified and let through) on all its threads,
// passes the listener to the agent (SCM_RIGHTS), waits for the agent to
// serve it, and executes the interpreter; an exec that fails sends its
// errno back on fd 3 (close-on-exec: EOF means the exec went through).
// The agent serves the listener from one locked thread. What it reads of
// the caller's memory is evidence, never a decision.
//
// The agent cannot install the filter on itself and serve it: Go starts
// a process with vfork, which holds the agent's only P while the child's
// execve waits for an answer that nothing can then give.

// shimEnv, set to "1" in the shim's environment (and removed before the
// exec), makes moat's binary the shim.
const shimEnv = "MOAT_MICROVM_SHIM"

// shimUserEnv, after shimSettings in the shim's environment (and removed
// with them), names the uid (and gid) the shim becomes before its exec,
// after emptying its bounding set: set where the shim starts as uid 0 of
// a user namespace of its own (ownUserNS).
const shimUserEnv = "MOAT_MICROVM_SHIM_USER"

// shimSettings lead the shim's environment; the shim removes them.
var shimSettings = []string{"GODEBUG=asyncpreemptoff=1", shimEnv + "=1"}

// startShim starts the program through the shim and serves its listener.
func startShim(job Job, attr *os.ProcAttr, t0 time.Time) (*os.Process, *guestKernel, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "shim"), os.NewFile(uintptr(fds[1]), "shim")
	defer mine.Close()
	a := *attr
	a.Files = append(append([]*os.File(nil), attr.Files...), theirs)
	// The shim's own settings first (Go reads the first GODEBUG): no
	// asynchronous preemption, whose signals would interrupt the shim's
	// execve while it waits for the agent, again and again.
	a.Env = append(append([]string(nil), shimSettings...), attr.Env...)
	if a.Sys != nil && a.Sys.Cloneflags&unix.CLONE_NEWUSER != 0 && a.Sys.Credential != nil {
		// A new user namespace starts with a full bounding set, which
		// the agent's dropBounding cannot reach: the shim, uid 0 of that
		// namespace, empties it, then becomes the program's user
		// (shimUserEnv) before its exec.
		sys := *a.Sys
		a.Env = append(append(append([]string(nil), shimSettings...), fmt.Sprintf("%s=%d", shimUserEnv, sys.Credential.Uid)), attr.Env...)
		sys.Credential = nil
		a.Sys = &sys
	}
	proc, err := os.StartProcess("/proc/self/exe", job.Argv, &a)
	theirs.Close()
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*os.Process, *guestKernel, error) {
		_ = proc.Kill()
		_, _ = proc.Wait()
		return nil, nil, err
	}
	buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(fds[0], buf, oob, 0)
	if err != nil || n == 0 {
		return fail(fmt.Errorf("the shim sent no seccomp listener: %v", err))
	}
	if buf[0] != 'L' {
		return fail(fmt.Errorf("shim: %s", clean(string(buf[1:n]))))
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return fail(fmt.Errorf("the shim's listener: %v", err))
	}
	rights, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(rights) != 1 {
		return fail(fmt.Errorf("the shim's listener: %v", err))
	}
	unix.CloseOnExec(rights[0])
	k := &guestKernel{fd: rights[0], t0: t0, argv0: job.Argv[0], done: make(chan struct{}), finished: make(chan struct{}),
		hashes: &seccomp.ExecHashes{Max: 256}}
	go k.serve()
	if _, err := unix.Write(fds[0], []byte{'G'}); err != nil {
		k.stop()
		return fail(fmt.Errorf("shim: %w", err))
	}
	// EOF: the exec went through (fd 3 is close-on-exec); else its errno.
	var e [4]byte
	if n, _ := unix.Read(fds[0], e[:]); n == 4 {
		_, _ = proc.Wait()
		k.stop()
		errno := syscall.Errno(binary.BigEndian.Uint32(e[:]))
		return nil, nil, &os.PathError{Op: "exec", Path: job.Argv[0], Err: errno}
	}
	return proc, k, nil
}

// shim is the program's start: see above. It runs as the sandbox user.
func shim() {
	sock := 3
	die := func(msg string) {
		_, _ = unix.Write(sock, append([]byte{'E'}, msg...))
		os.Exit(127)
	}
	env := os.Environ()
	for _, kv := range shimSettings {
		if len(env) > 0 && env[0] == kv {
			env = env[1:]
		}
	}
	runtime.LockOSThread()
	if len(env) > 0 && strings.HasPrefix(env[0], shimUserEnv+"=") {
		id, err := strconv.Atoi(strings.TrimPrefix(env[0], shimUserEnv+"="))
		env = env[1:]
		if err != nil {
			die("shim user: " + err.Error())
		}
		if err := dropBounding(); err != nil {
			die("capability bounding set: " + err.Error())
		}
		if err := unix.Setgroups([]int{}); err != nil {
			die("setgroups: " + err.Error())
		}
		if err := unix.Setresgid(id, id, id); err != nil {
			die("setgid: " + err.Error())
		}
		if err := unix.Setresuid(id, id, id); err != nil {
			die("setuid: " + err.Error())
		}
	}
	fd, _, err := seccomp.InstallNotify()
	if err != nil {
		die(err.Error())
	}
	if err := unix.Sendmsg(sock, []byte{'L'}, unix.UnixRights(fd), nil, 0); err != nil {
		os.Exit(127)
	}
	unix.Close(fd)
	var b [1]byte
	if n, _ := unix.Read(sock, b[:]); n != 1 || b[0] != 'G' {
		os.Exit(127)
	}
	unix.CloseOnExec(sock)
	err = unix.Exec(os.Args[0], os.Args, env)
	var e [4]byte
	errno, _ := err.(syscall.Errno)
	binary.BigEndian.PutUint32(e[:], uint32(errno))
	_, _ = unix.Write(sock, e[:])
	os.Exit(127)
}

// guestKernel serves one run's seccomp listener.
type guestKernel struct {
	fd       int
	t0       time.Time
	argv0    string
	done     chan struct{}
	finished chan struct{}

	mu     sync.Mutex
	events []moat.Event
	budget kbudget.Budget      // within its kinds' reserves
	first  bool                // the agent's exec of the interpreter was seen
	hashes *seccomp.ExecHashes // per file version: the interpreter once a run
	socks  seccomp.Sockets     // the binds, for their listens
	execs  seccomp.ExecCheck   // what each exec ran, confirmed after it
}

func (k *guestKernel) serve() {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	defer close(k.finished)
	var lastSweep time.Time
	for {
		select {
		case <-k.done:
			return
		default:
		}
		if time.Since(lastSweep) >= seccomp.SweepEvery {
			k.execs.SweepTo(k.keepRan) // a process that ran another file and calls nothing watched
			lastSweep = time.Now()
		}
		pfd := []unix.PollFd{{Fd: int32(k.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 100)
		if err == unix.EINTR || n == 0 {
			continue
		}
		if err != nil || pfd[0].Revents&unix.POLLIN == 0 {
			return
		}
		nt, err := seccomp.Receive(k.fd)
		if err != nil {
			continue
		}
		// What an exec of the caller's process ran, before its next
		// call is answered (seccomp.ExecCheck).
		if k.execs.Observe(nt, k.keepRan) {
			lastSweep = time.Now()
		}
		if seccomp.Exit(nt) {
			_ = seccomp.Respond(k.fd, nt.ID, 0) // notified for the check alone
			continue
		}
		if ev, keep := k.answer(nt); keep {
			ev.TimeMS = time.Since(k.t0).Milliseconds()
			k.keep(ev)
		}
	}
}

// keepRan records what an exec ran (seccomp.ExecCheck).
func (k *guestKernel) keepRan(ran seccomp.Ran) {
	pid, ppid := taskIDs(ran.PID)
	ev := procmem.RanEvent(ran, pid, ppid, k.hashes.Exec)
	ev.TimeMS = time.Since(k.t0).Milliseconds()
	k.keep(ev)
}

// answer answers one notification and says what to record.
func (k *guestKernel) answer(n seccomp.Notif) (moat.Event, bool) {
	nr := uint32(n.Nr)
	tid := int(n.PID)
	pid, ppid := taskIDs(tid)
	if errno, name, ok := seccomp.DenyErrno(nr); ok {
		// The agent's own, and glibc's clone3 probe (seccomp.Clone3Probe,
		// read before the answer), are not the program's doing.
		probe := name == "clone3" && seccomp.Clone3Probe(n)
		_ = seccomp.Respond(k.fd, n.ID, errno)
		if pid == 1 || probe {
			return moat.Event{}, false
		}
		if name == "socket" || name == "socketpair" {
			return procmem.SocketEvent(pid, name, n.Args, errno), true
		}
		return moat.Event{Source: moat.SourceKernel, Kind: moat.KindDenied, PID: pid, Name: name,
			Detail: fmt.Sprintf("returned %s; args %#x %#x", unix.ErrnoName(errno), n.Args[0], n.Args[1])}, true
	}
	ev := moat.Event{Source: moat.SourceKernel, PID: pid, PPID: ppid, Name: seccomp.Watched[nr]}
	opens := true // a bind or listen that opens a port
	if nr == unix.SYS_BIND || nr == unix.SYS_LISTEN {
		opens = procmem.Listener(&ev, n, tid, &k.socks)
	} else if procmem.Call(&ev, n, tid, 2000, k.hashes.Exec, &k.execs) && (ev.Kind == moat.KindExec || ev.Kind == moat.KindExecFailed) {
		ev.Stdio = seccomp.StdioSockets(tid)
	}
	// A call whose wait was interrupted by a signal is gone (ENOENT):
	// the kernel restarts it, and it comes again.
	if seccomp.Respond(k.fd, n.ID, 0) != nil {
		return ev, false
	}
	switch {
	case pid == 1:
		return ev, false // the agent's own
	case ev.Kind == moat.KindExec && !k.first && ev.Path == k.argv0:
		k.first = true // the agent starting the interpreter
		return ev, false
	case ev.Kind == moat.KindConnect && ev.Addr == "" && ev.Path == "":
		return ev, false // AF_UNSPEC (disconnect) or no address
	case !opens:
		return ev, false // a client's bind, a Unix socket's listen
	}
	return ev, true
}

// keep records ev within its kind's reserve (kbudget.Budget).
func (k *guestKernel) keep(ev moat.Event) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.budget.Keep(ev) {
		k.events = append(k.events, ev)
	}
}

// stop ends the serving once the program and all it started are dead,
// and returns the events, with the one that counts those dropped, and
// their count.
func (k *guestKernel) stop() ([]moat.Event, int) {
	close(k.done)
	<-k.finished
	unix.Close(k.fd)
	k.mu.Lock()
	defer k.mu.Unlock()
	if ev, n, ok := k.budget.Event("kernel events"); ok {
		return append(k.events, ev), n
	}
	return k.events, 0
}

// taskIDs reads the thread group id and the parent's pid of task tid.
func taskIDs(tid int) (pid, ppid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Tgid:"); ok {
			pid, _ = strconv.Atoi(strings.TrimSpace(rest))
		} else if rest, ok := strings.CutPrefix(l, "PPid:"); ok {
			ppid, _ = strconv.Atoi(strings.TrimSpace(rest))
		}
	}
	return pid, ppid
}
