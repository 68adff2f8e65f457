package gvisor

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/sandbox/pid1"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// The sandbox's pid 1 when the report is on: this binary (moat's, or a
// test's), bound read-only in the sandbox and started by runsc with
// envInit naming the walk file. /dev/shm is a tmpfs inside the Sentry
// (shmMount) that the host cannot read, so the init walks it for the
// report: it starts the program, reaps every process, and when the
// program ends (or on SIGTERM, moat's runsc kill at a stop) kills every
// other process of the sandbox, waits until none is left, and only then
// packs /dev/shm (treecopy: links never followed, special files named,
// bounded) into the walk file, which the host unpacks into the diff
// (loadShm).
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
// it ends with that nonce (walkTrailer). An init that never got to its
// walk (the run killed at a limit, the init stopped) leaves no nonce: the
// report says /dev/shm was not walked, a cut.

// envInit, in pid 1's environment, names the walk file (inside the
// sandbox) and makes this binary, as pid 1, the init. Its name says nothing
// of moat: the Sentry (unlike Linux) lets the program read a non-dumpable
// pid 1's /proc/1/environ, the environment it started with (corpus
// tells.py found MOAT_... there). The init unsets it for the program.
const envInit = "INIT_WALK"

// shmFiles bounds the entries of /dev/shm the init packs (the host walks
// at most observe.MaxFSEntries of all roots).
const shmFiles = 100000

// nonceLen is the length of the walk file's nonce (hex).
const nonceLen = 32

// walkTrailer ends a complete walk stream: the nonce after it.
const walkTrailer = "\nMOAT-SHM-WALK-END "

func init() {
	walk, ok := os.LookupEnv(envInit)
	if !ok || os.Getpid() != 1 {
		// Not pid 1 of a sandbox: moat as anyone started it (the
		// variable is the user's own then, or the program's).
		return
	}
	runtime.LockOSThread()
	os.Exit(initMain(walk, os.Args[1:]))
}

// initMain runs argv as the program and returns its exit code (128+N for
// a signal N, as runsc reports a killed init); see the comment above.
func initMain(walkPath string, argv []string) int {
	_ = os.Unsetenv(envInit)
	if os.Getpid() != 1 || len(argv) == 0 {
		// Someone started the init by hand (the program can exec it): it
		// does nothing.
		return 125
	}
	// Every signal the program may send is taken and dropped; SIGTERM
	// (moat's stop, or the program's) ends the run.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
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
	if f, err := os.OpenFile(walkPath, os.O_RDWR|unix.O_NOFOLLOW, 0); err == nil {
		b := make([]byte, nonceLen)
		if n, _ := io.ReadFull(f, b); n == nonceLen && f.Truncate(0) == nil {
			walk, nonce = f, b
		} else {
			f.Close()
		}
	}
	env := os.Environ()
	proc, err := os.StartProcess(argv[0], argv, &os.ProcAttr{Env: env, Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys: &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: sandboxID, Gid: sandboxID, Groups: []uint32{}}}})
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
	go func() {
		<-term
		_ = unix.Kill(-1, unix.SIGKILL)
	}()
	code, quiet := reapAll(proc.Pid)
	if walk != nil && quiet {
		writeWalk(walk, nonce)
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
func reapAll(main int) (code int, quiet bool) {
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

// writeWalk packs /dev/shm into walk, from its start, and ends it with
// the trailer and nonce. No other process exists now.
func writeWalk(walk *os.File, nonce []byte) {
	defer walk.Close()
	if walk.Truncate(0) != nil {
		return
	}
	if _, err := walk.Seek(0, io.SeekStart); err != nil {
		return
	}
	var st unix.Statfs_t
	size := int64(0)
	if unix.Statfs(shmDir, &st) == nil {
		size = int64(st.Blocks) * st.Bsize
	}
	// A stream cut short by a cap is still complete (its records name
	// what was left out); one that could not be written has no end
	// record and no trailer.
	err := treecopy.Pack(walk, shmDir, treecopy.Limits{Bytes: size, Files: shmFiles})
	if err != nil && !errors.Is(err, treecopy.ErrLimit) && !errors.Is(err, treecopy.ErrIncomplete) {
		return
	}
	if _, err := walk.Write(append([]byte(walkTrailer), nonce...)); err != nil {
		return
	}
	_ = walk.Sync()
}
