package native

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/sandbox/nsinit"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp/procmem"
)

// serveNotify takes the init's seccomp listener (pidfd_getfd) and answers
// every notification until the run is done: denied syscalls get the deny
// list's errno (a socket of a refused address family is recorded as kind
// "socket" with the family's name), execve/execveat/connect/bind/listen
// continue (a bind or listen recorded as kind "listener" where it opens a
// port: procmem.Listener). Each is recorded as a
// "kernel" event, with the path or address read from the caller's memory
// before the answer. That read is evidence, not a decision: another thread
// of the caller could change the memory between our read and the
// kernel's (TOCTOU), and nothing here decides anything from it.
//
// If the listener cannot be taken the run cannot go on (the init's first
// execve waits for an answer), so it is stopped with an error.
func (r *runner) serveNotify(initFD int, done <-chan struct{}) {
	initPid := r.cmd.Process.Pid
	pidfd, err := unix.PidfdOpen(initPid, 0)
	var fd int
	if err == nil {
		fd, err = unix.PidfdGetfd(pidfd, initFD, 0)
		unix.Close(pidfd)
	}
	if err != nil {
		r.mu.Lock()
		r.notifyErr = fmt.Errorf("take the seccomp listener: %w", err)
		r.mu.Unlock()
		r.stop(moat.StatusError)
		return
	}
	r.serveListener(fd, initPid, false, done)
}

// serveListener serves the listener fd (closed at the end) of a sandbox
// whose pid 1 is initPid, as serveNotify says, until done. started: the
// interpreter is running already (a zygote child's), so no first exec is
// moat's.
//
// The init is under the filter too (it installed it on itself), and its
// own exit_group notifies (seccomp.ExecCheck): it holds the listener
// itself, so a call left unanswered would wait for ever. After done the
// listener is therefore served until the init has exited (its pidfd), or
// no process uses the filter, or drainBound has passed; a prestarted
// run's Result is final at the init's "exit" message, before its exit.
func (r *runner) serveListener(fd, initPid int, started bool, done <-chan struct{}) {
	r.notifyWG.Add(1)
	initFD, perr := unix.PidfdOpen(initPid, 0)
	go func() {
		defer r.notifyWG.Done()
		defer unix.Close(fd)
		if perr == nil {
			defer unix.Close(initFD)
		}
		sawFirst := started
		var drainUntil, lastSweep time.Time
		initGone := false
		for {
			if drainUntil.IsZero() {
				select {
				case <-done:
					if perr != nil {
						return
					}
					drainUntil = time.Now().Add(drainBound)
				default:
				}
			} else if initGone || time.Now().After(drainUntil) {
				return
			}
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(initFD), Events: unix.POLLIN}}
			if perr != nil || initGone {
				pfd = pfd[:1]
			}
			if time.Since(lastSweep) >= seccomp.SweepEvery {
				r.execs.SweepTo(r.keepRan) // a process that ran another file and calls nothing watched
				lastSweep = time.Now()
			}
			n, err := unix.Poll(pfd, int(seccomp.SweepEvery/time.Millisecond))
			if err == unix.EINTR || n == 0 { // EINTR: Go's preemption signals
				continue
			}
			if err != nil {
				return
			}
			if len(pfd) > 1 && pfd[1].Revents != 0 {
				initGone = true
			}
			if pfd[0].Revents&unix.POLLIN == 0 {
				if pfd[0].Revents != 0 || !drainUntil.IsZero() && initGone {
					return // POLLHUP: no process uses the filter any more; or done, and the init gone
				}
				continue // the init's end, before done: POLLHUP follows
			}
			nt, err := seccomp.Receive(fd)
			if err != nil {
				if err == unix.EINTR || err == unix.ENOENT {
					continue
				}
				return
			}
			// What an exec of the caller's process ran, before its
			// next call is answered (seccomp.ExecCheck); at a signal
			// sent, what every process's did, before it may end one.
			if r.execs.Observe(nt, r.keepRan) {
				lastSweep = time.Now()
			}
			if seccomp.Exit(nt) {
				_ = seccomp.Respond(fd, nt.ID, 0) // notified for the check alone
				continue
			}
			if ev, keep := r.notification(fd, nt, initPid, &sawFirst); keep {
				r.keepKernel(ev)
			}
		}
	}()
}

// keepRan records what an exec ran (seccomp.ExecCheck).
func (r *runner) keepRan(ran seccomp.Ran) {
	pid, ppid, up := procIDs(ran.PID)
	ev := procmem.RanEvent(ran, pid, ppid, execTarget)
	ev.Ancestors, ev.Stdio = up, seccomp.StdioSockets(ran.PID)
	r.keepKernel(ev)
}

// keepKernel records ev, a kernel event, within the budget.
func (r *runner) keepKernel(ev moat.Event) {
	// Before a prestarted run began (its interpreter's startup): 0.
	ev.TimeMS = max(0, (nsinit.MonoNow()-r.monoZero.Load())/1e6)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kernelBudget.Keep(ev) {
		r.kernelEvents = append(r.kernelEvents, ev)
	}
}

// notification answers one notification and says what to record.
func (r *runner) notification(fd int, n seccomp.Notif, initPid int, sawFirst *bool) (moat.Event, bool) {
	nr := uint32(n.Nr)
	hostPid := int(n.PID)
	if errno, name, ok := seccomp.DenyErrno(nr); ok {
		// A clone3 asking for no namespace is glibc's start of a thread
		// or process, which falls back to clone (seccomp.Clone3Probe,
		// read before the answer); the init's calls are its own.
		probe := name == "clone3" && seccomp.Clone3Probe(n)
		_ = seccomp.Respond(fd, n.ID, errno)
		if hostPid == initPid || probe {
			return moat.Event{}, false
		}
		if name == "socket" || name == "socketpair" {
			pid, _, _ := procIDs(hostPid)
			return procmem.SocketEvent(pid, name, n.Args, errno), true
		}
		pid, _, _ := procIDs(hostPid)
		return moat.Event{Source: "kernel", Kind: "denied", PID: pid, Name: name,
			Detail: fmt.Sprintf("returned %s; args %#x %#x", unix.ErrnoName(errno), n.Args[0], n.Args[1])}, true
	}
	pid, ppid, up := procIDs(hostPid)
	ev := moat.Event{Source: "kernel", PID: pid, PPID: ppid, Ancestors: up, Name: seccomp.Watched[nr]}
	if nr == unix.SYS_BIND || nr == unix.SYS_LISTEN {
		// A port opened (seccomp.Sockets): recorded; a client's bind, a
		// Unix socket's listen: not.
		opens := procmem.Listener(&ev, n, hostPid, &r.socks)
		_ = seccomp.Respond(fd, n.ID, 0)
		return ev, opens && hostPid != initPid
	}
	if procmem.Call(&ev, n, hostPid, maxArgv, execTarget, &r.execs) {
		if ev.Kind == moat.KindExec || ev.Kind == moat.KindExecFailed {
			ev.Stdio = seccomp.StdioSockets(hostPid)
		}
		if !seccomp.IDValid(fd, n.ID) {
			ev.Detail += " (the caller died while it was read)"
		}
	}
	_ = seccomp.Respond(fd, n.ID, 0)
	if hostPid == initPid {
		return ev, false // the init's own (there is none after the filter)
	}
	if ev.Kind != "connect" && !*sawFirst && ev.Path == r.rtCommand() {
		*sawFirst = true // moat starting the interpreter
		r.firstPid = hostPid
		return ev, false
	}
	if r.spec.Launcher && r.firstPid == hostPid && ev.Kind == moat.KindExec {
		// moat's launcher (Spec.Launcher) starting the phase's program:
		// kept, as moat's own, so that no finding rests on it.
		r.firstPid = 0
		ev.Source, ev.Detail = moat.SourceMoat, "moat's launcher: "+ev.Detail
	}
	if ev.Kind == "connect" && ev.Addr == "" && ev.Path == "" {
		return ev, false // AF_UNSPEC (disconnect) or no address
	}
	return ev, true
}

// drainBound bounds the serving of a listener after its run is done
// (serveListener).
const drainBound = 2 * time.Minute

// maxArgv bounds an exec event's command line: long enough for a
// `sh -c` one-liner with an encoded payload and the pipe that runs it.
const maxArgv = 2000

func (r *runner) rtCommand() string { return r.rt.Command }
