package sentryinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/sandbox/pid1"
	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// The sandbox's pid 1 when the report is on: this binary (moat's, or a
// test's), bound read-only in the sandbox and started by runsc with
// Env naming the walk file. /dev/shm is a tmpfs inside the Sentry
// (the backend's shmMount) that the host cannot read, so the init walks it for the
// report: it starts the program, reaps every process, and when the
// program ends (or on SIGTERM, moat's runsc kill at a stop) kills every
// other process of the sandbox, waits until none is left, and only then
// packs /dev/shm (treecopy: links never followed, special files named,
// bounded) into the walk file, which the host unpacks into the diff
// (the backend's loadShm).
//
// What the program cannot do to it: it runs as the same uid, but the init
// is non-dumpable (no ptrace, /proc/1/mem, /proc/1/fd: and the OCI profile
// refuses ptrace and process_vm_* anyway), handles every signal (pid 1 of
// the namespace gets no signal it does not handle, and SIGKILL and SIGSTOP
// from inside none at all), and walks only when no other process is left,
// so nothing changes /dev/shm or the walk file while it is written. A
// stream the program wrote itself is never taken: the host writes a nonce
// into the walk file before the run, the init reads it and empties the
// file before the program starts, and the host takes the stream only when
// it ends with that nonce (Trailer). An init that never got to its
// walk (the run killed at a limit, the init stopped) leaves no nonce: the
// report says /dev/shm was not walked, a cut.

func init() {
	walk, ok := os.LookupEnv(Env)
	if !ok || os.Getpid() != 1 {
		// Not pid 1 of a sandbox: moat as anyone started it (the
		// variable is the user's own then, or the program's).
		return
	}
	runtime.LockOSThread()
	os.Exit(initMain(walk, os.Args[1:]))
}

// deadly are the signals on which Go's runtime ends a program that did
// not ask for them: exit (SIGHUP, SIGINT, SIGTERM) or a stack dump and
// exit (the rest). A user's SIGSEGV, SIGBUS or SIGFPE is not a fault
// (the runtime drops it), SIGTSTP, SIGTTIN and SIGTTOU are left at their
// default, which a namespace's init never gets from inside (and
// pid1.IgnoreDefaults ignores them once the program runs).
var deadly = []os.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP, unix.SIGABRT, unix.SIGSTKFLT, unix.SIGSYS}

// initMain runs argv as the program and returns its exit code (128+N for
// a signal N, as runsc reports a killed init); see the comment above.
func initMain(walkPath string, argv []string) int {
	_ = os.Unsetenv(Env)
	if os.Getpid() != 1 || len(argv) == 0 {
		// Someone started the init by hand (the program can exec it): it
		// does nothing.
		return 125
	}
	// No signal the program may send ends the init; SIGTERM (moat's
	// stop) ends the run. Go's runtime catches every signal and drops
	// those it is not told of, but for deadly: the ones it would exit on
	// or dump and exit on (os/signal's "default behavior") are taken
	// here and dropped. (The program, another uid, cannot signal pid 1
	// anyway.) Not signal.Notify of every signal: each signal the
	// runtime handles is a round trip with its signal thread, and some
	// 60 of them cost the run ~100 ms of futex calls through the Sentry
	// before the program started.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, deadly...)
	term := make(chan struct{})
	go func() {
		closed := false
		for s := range sigs {
			if s == syscall.SIGTERM && !closed {
				close(term)
				closed = true
			}
		}
	}()
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		os.Stderr.WriteString("moat: init: set non-dumpable: " + err.Error() + "\n")
		return 125
	}
	// The walk file: its nonce read and the file emptied before the
	// program exists; kept open (close-on-exec) for the walk.
	var walk *os.File
	var nonce []byte
	pids := 0
	if f, err := os.OpenFile(walkPath, os.O_RDWR|unix.O_NOFOLLOW, 0); err == nil {
		b := make([]byte, NonceLen+1+PidsDigits)
		n, _ := io.ReadFull(f, b)
		if (n == NonceLen || n == len(b)) && f.Truncate(0) == nil {
			walk, nonce = f, b[:NonceLen]
			if n == len(b) && b[NonceLen] == ' ' {
				pids, _ = strconv.Atoi(string(b[NonceLen+1:]))
			}
		} else {
			f.Close()
		}
	}
	env := os.Environ()
	proc, err := os.StartProcess(argv[0], argv, &os.ProcAttr{Env: env, Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys: &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: UID, Gid: UID, Groups: []uint32{}}}})
	if err != nil {
		os.Stderr.WriteString("moat: start " + argv[0] + ": " + err.Error() + "\n")
		if errors.Is(err, unix.ENOENT) {
			return 127
		}
		return 126
	}
	// Signals the runtime leaves at their default could kill this init
	// (package pid1); ignored once the program, which must start with
	// every signal at its default, runs.
	_, _ = pid1.IgnoreDefaults()
	// At moat's stop (the run's timeout or a limit, the program still
	// running), the daemons are listed before everything is killed:
	// else a daemon that outlasts the run rather than the program would
	// die unlisted.
	var stopMu sync.Mutex
	var atStop []survivors.Process
	stopListed := false
	listed := func() {
		if walk == nil {
			return
		}
		sid, _ := unix.Getsid(0)
		ds := survivors.AtStop(proc.Pid, []int{sid, proc.Pid}, nil)
		stopMu.Lock()
		if !stopListed {
			atStop, stopListed = ds, true
		}
		stopMu.Unlock()
	}
	go func() {
		<-term
		listed()
		_ = unix.Kill(-1, unix.SIGKILL)
	}()
	// The pids limit, kept here: the program's processes are the
	// Sentry's tasks, which the host's cgroup does not count one for one
	// (it counts the Sentry's threads), so a host that ended the run at
	// its cgroup's limit killed the sandbox before this init could list
	// the daemons. At the limit the init stops every process, lists the
	// daemons, kills them all, and says so in the walk (PidsHit); the
	// Sentry's RLIMIT_NPROC bounds the program between two counts.
	var pidsHit atomic.Bool
	watchDone := make(chan struct{})
	if pids > 0 {
		go pid1.WatchTasks(pids, &pidsHit, watchDone, listed)
	}
	// With the report (the walk file), what outlives the program is
	// listed before it is killed, and goes to the host in the walk.
	var outlived *[]survivors.Process
	if walk != nil {
		outlived = new([]survivors.Process)
	}
	code, quiet := reapAll(proc.Pid, outlived)
	close(watchDone)
	if walk != nil && quiet {
		stopMu.Lock()
		if len(*outlived) == 0 {
			*outlived = atStop
		}
		stopMu.Unlock()
		writeWalk(walk, nonce, Ended{Outlived: *outlived, PidsHit: pidsHit.Load()})
	}
	return code
}

// quietWithin bounds how long, after the program ended, the init waits for
// the last process to be gone; past it, it does not walk (the report says
// so) and exits, which ends the sandbox.
const quietWithin = 10 * time.Second

// reapAll reaps every child until the program (pid main) ends, then kills
// every other process of the sandbox and reaps until none is left: kill(-1)
// from pid 1 with CAP_KILL reaches all of them, and every orphan is pid
// 1's child. It returns the program's
// exit code, and whether no other process was left within quietWithin.
// What is left when the program ends is listed into *outlived first (nil:
// not listed): the program runs in the init's session, or its own if it
// called setsid; a process in any other is a daemon's.
func reapAll(main int, outlived *[]survivors.Process) (code int, quiet bool) {
	code = 128 + int(unix.SIGKILL)
	var ended time.Time
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // ECHILD: no child left
			// None left to signal either (a process not yet reparented
			// would still be found): else kill and reap again.
			if unix.Kill(-1, unix.SIGKILL) == unix.ESRCH {
				return code, true
			}
			if !ended.IsZero() && time.Since(ended) > quietWithin {
				return code, false
			}
			time.Sleep(time.Millisecond)
			continue
		}
		if pid != main {
			continue
		}
		if outlived != nil {
			sid, _ := unix.Getsid(0)
			*outlived = survivors.Wait(main, []int{sid, main}, nil)
		}
		ended = time.Now()
		switch {
		case ws.Exited():
			code = ws.ExitStatus()
		case ws.Signaled():
			code = 128 + int(ws.Signal())
		}
		_ = unix.Kill(-1, unix.SIGKILL)
	}
}

// writeWalk packs /dev/shm into walk, from its start, then the JSON of
// how the run ended (what outlived the program, the pids limit) and its
// length (OutlivedDigits decimal digits), and ends it with the trailer
// and nonce. No other process exists now.
func writeWalk(walk *os.File, nonce []byte, ended Ended) {
	defer walk.Close()
	if walk.Truncate(0) != nil {
		return
	}
	if _, err := walk.Seek(0, io.SeekStart); err != nil {
		return
	}
	var st unix.Statfs_t
	size := int64(0)
	if unix.Statfs(ShmDir, &st) == nil {
		size = int64(st.Blocks) * st.Bsize
	}
	// A stream cut short by a cap is still complete (its records name
	// what was left out); one that could not be written has no end
	// record and no trailer.
	err := treecopy.Pack(walk, ShmDir, treecopy.Limits{Bytes: size, Files: Files})
	if err != nil && !errors.Is(err, treecopy.ErrLimit) && !errors.Is(err, treecopy.ErrIncomplete) {
		return
	}
	js, _ := json.Marshal(ended)
	if len(js) > MaxOutlivedJSON {
		// The bounds of package survivors keep it far below.
		js, _ = json.Marshal(Ended{PidsHit: ended.PidsHit})
	}
	js = fmt.Appendf(js, "%0*d", OutlivedDigits, len(js))
	if _, err := walk.Write(append(js, append([]byte(Trailer), nonce...)...)); err != nil {
		return
	}
	_ = walk.Sync()
}
