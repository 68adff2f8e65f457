package docker

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	sentrylog "github.com/moat-sandbox/moat/backend/internal/sentry"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
)

// gVisor as Docker's runtime (gVisor's --image) refuses the init's seccomp
// listener, so the kernel side of the report comes from the Sentry's own
// log instead: runsc registered with the daemon to trace (--debug --strace
// --strace-syscalls=execve,execveat,connect,clone,fork,vfork,socket,chdir,fchdir,bind,listen
// --debug-log=DIR/ --debug-command=boot; .ci/setup-runsc-trace.sh) writes one
// boot log per container into DIR, which moat reads after the run, when
// the daemon is on this host and moat may read DIR, and then removes. The
// program cannot write there; the Sentry quotes what it traces.
//
// chdir and fchdir (sentrylog.CwdSyscalls) let the trace's relative execs
// be named whole, from the container's working directory followed through
// forks and changes (as gVisor direct's). A registration of an older moat
// traces neither: its relative execs are kept as given, and the report says
// so (cwdUnfollowed), never taken from a directory not followed.

// sentryLogDir returns the directory the daemon's runtime rt writes
// traced boot logs to, or why there is none; cwd says the registration
// traces sentrylog.CwdSyscalls too, listens sentrylog.ListenSyscalls.
func sentryLogDir(ctx context.Context, e *engine, rt string) (dir, off string, cwd, listens bool) {
	if local, why := e.onHost(ctx); !local {
		return "", why, false, false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	i, err := e.cli.Info(ctx)
	if err != nil {
		return "", "docker info: " + err.Error(), false, false
	}
	r, ok := i.Runtimes[rt]
	if !ok {
		return "", "the daemon has no runtime " + rt, false, false
	}
	return traceArgs(r.Args, rt)
}

// traceArgs reads runtime rt's registered arguments: the directory its
// traced boot logs go to, or why there is none; cwd: chdir and fchdir are
// traced too; listens: bind and listen.
func traceArgs(args []string, rt string) (dir, off string, cwd, listens bool) {
	debug, strace, syscalls, command := false, false, "", ""
	for _, a := range args {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		switch strings.TrimPrefix(k, "-") {
		case "debug":
			debug = v == "" || v == "true"
		case "strace":
			strace = v == "" || v == "true"
		case "strace-syscalls":
			syscalls = v
		case "debug-log":
			dir = v
		case "debug-command":
			command = v
		}
	}
	want := strings.Split(sentrylog.Syscalls, ",")
	got := strings.Split(syscalls, ",")
	switch {
	case !debug || !strace || !strings.HasSuffix(dir, "/") || !filepath.IsAbs(dir) ||
		slices.ContainsFunc(want, func(c string) bool { return !slices.Contains(got, c) }) ||
		(command != "" && (!slices.Contains(strings.Split(command, ","), "boot") || strings.HasPrefix(command, "!"))):
		return "", "the runtime " + rt + " is not registered to trace (--debug --strace --strace-syscalls=" + sentrylog.Syscalls + "," + sentrylog.CwdSyscalls + "," + sentrylog.ListenSyscalls +
			" --debug-log=DIR/ --debug-command=boot: docs/gvisor.md)", false, false
	}
	cwd = !slices.ContainsFunc(strings.Split(sentrylog.CwdSyscalls, ","), func(c string) bool { return !slices.Contains(got, c) })
	listens = !slices.ContainsFunc(strings.Split(sentrylog.ListenSyscalls, ","), func(c string) bool { return !slices.Contains(got, c) })
	return dir, "", cwd, listens
}

// listensUnseen is the event of a run whose runtime is registered to
// trace no bind or listen (an older registration): no port the program
// opens is the kernel's to see, and the report takes the hook's binds
// (report's listeners).
func listensUnseen(rt string) moat.Event {
	return moat.Event{Source: moat.SourceMoat, Kind: moat.KindTrace, Name: "listens-unseen", // report's listeners reads it
		Detail: "the runtime " + rt + " is registered to trace no " + sentrylog.ListenSyscalls + " (an older .ci/setup-runsc-trace.sh): " +
			"a port the program opens is not seen by the kernel side (register --strace-syscalls=" +
			sentrylog.Syscalls + "," + sentrylog.CwdSyscalls + "," + sentrylog.ListenSyscalls + ": docs/gvisor.md)"}
}

// cwdUnfollowed is the event of a run whose runtime is registered to trace
// no chdir or fchdir (an older registration): its relative execs are kept
// as given, not named from a working directory.
func cwdUnfollowed(rt string) moat.Event {
	return moat.Event{Source: moat.SourceMoat, Kind: moat.KindTrace, Name: "cwd-unfollowed",
		Detail: "the runtime " + rt + " is registered to trace no " + sentrylog.CwdSyscalls + " (an older .ci/setup-runsc-trace.sh): " +
			"an exec of a relative path is kept as given, not named from its working directory (register --strace-syscalls=" +
			sentrylog.Syscalls + "," + sentrylog.CwdSyscalls + "," + sentrylog.ListenSyscalls + ": docs/gvisor.md)"}
}

// maxSentryFiles bounds the boot logs opened for a container's: those
// begun since the run started (older ones, such as a killed run's left
// behind, are passed over unopened and do not count).
const maxSentryFiles = 1024

// The boot logs of every container share one sized tmpfs (docs/gvisor.md),
// and runsc writes a traced call as it happens. A run that floods its
// trace (a loop of failing execs or sockets) would fill it, and every
// other run's Sentry would then lose the lines it could not write: one
// run could blind another. So moat drains its run's log while the run
// goes: every sentryTick it reads what was added (kept within
// sentrylog.MaxBytes in memory, the rest counted cut) and gives back the
// space of what it has read (a hole punched in the file, whose offsets
// runsc keeps appending at). A run's log then holds at most what its
// Sentry writes in a tick or two, beside a share that no longer grows.
const (
	sentryTick = 50 * time.Millisecond
	// punchStep is how much read log is left in place before its space
	// is given back: one fallocate call per 256 KiB, not one per tick.
	punchStep = 256 << 10
)

// sentryTail drains one container's boot log (see sentryTick); start it
// before the program starts, and end it with events once the container
// has exited.
type sentryTail struct {
	dir, id string
	start   time.Time
	// cwd: the trace has chdir and fchdir, so relative execs are named
	// from the container's working directory (ctr.WorkDir) followed.
	cwd  bool
	stop chan struct{}
	done chan struct{}

	// Owned by the draining goroutine until done is closed.
	f            *os.File
	off, punched int64
	full         bool // the directory was seen full: runsc may have lost lines
	pw           *io.PipeWriter
	keepDone     chan struct{}
	kept         bytes.Buffer // written by sentrylog.KeepWithin until keepDone
	cut          int
	budget       kbudget.Budget // KeepWithin's judgement of execs and connects
}

func newSentryTail(dir, id string, start time.Time) *sentryTail {
	return &sentryTail{dir: dir, id: id, start: start, stop: make(chan struct{}), done: make(chan struct{})}
}

// startSentryTail starts draining container id's boot log in dir, begun no
// earlier than start; cwd: the trace has chdir and fchdir (sentryLogDir).
func startSentryTail(dir, id string, start time.Time, cwd bool) *sentryTail {
	t := newSentryTail(dir, id, start)
	t.cwd = cwd
	go func() {
		defer close(t.done)
		tick := time.NewTicker(sentryTick)
		defer tick.Stop()
		for {
			t.step()
			select {
			case <-t.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return t
}

// step finds the log (until found), reads what was added since the last
// step into the kept lines, and gives back the space of what was read.
func (t *sentryTail) step() {
	if logFull(t.dir) {
		t.full = true
	}
	if t.f == nil {
		if t.f = findBootLog(t.dir, t.id, t.start); t.f == nil {
			return
		}
		pr, pw := io.Pipe()
		t.pw, t.keepDone = pw, make(chan struct{})
		go func() {
			sentrylog.KeepWithin(pr, &t.kept, &t.cut, &t.budget)
			close(t.keepDone)
		}()
	}
	n, _ := io.Copy(t.pw, t.f) // from where the last step ended to the end
	t.off += n
	if to := t.off &^ (4<<10 - 1); to-t.punched >= punchStep {
		if punchHole(t.f, t.punched, to-t.punched) == nil {
			t.punched = to
		}
	}
}

// events ends the draining, reads the log's last lines (the container has
// exited), removes the log and parses what was kept.
func (t *sentryTail) events() (evs []moat.Event, dropped int, off string) {
	close(t.stop)
	<-t.done
	t.step()
	if t.f == nil {
		return nil, 0, "no boot log of the container in " + t.dir
	}
	t.pw.Close()
	<-t.keepDone
	name := t.f.Name()
	t.f.Close()
	_ = os.Remove(name)
	cut := t.cut
	if t.full {
		cut++ // runsc may have lost lines it could not write
	}
	var o sentrylog.Options
	if t.cwd {
		o.Cwd = ctr.WorkDir // the container's (pid 1's) working directory
	}
	evs, dropped = sentrylog.Parse(&t.kept, t.start, kbudget.MaxEvents, o)
	if ev, ok := sentrylog.CutEvent(cut); ok {
		evs = append(evs, ev)
	}
	if ev, n, ok := t.budget.Event(sentrylog.KeptWhat); ok {
		evs, dropped = append(evs, ev), dropped+n
	}
	return evs, dropped + cut, ""
}

// sentryEvents reads, from dir, the boot log of container id (runsc
// names it by time: its first lines name the container), begun no
// earlier than start, and removes it: a tail started and ended at once.
func sentryEvents(dir, id string, start time.Time, cwd bool) (evs []moat.Event, dropped int, off string) {
	return startSentryTail(dir, id, start, cwd).events()
}

// findBootLog opens, from dir, the boot log of container id begun no
// earlier than start, at its start; nil when there is none (yet).
func findBootLog(dir, id string, start time.Time) *os.File {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	// runsc names its logs by the time they begin: the newest, this
	// run's among them, are looked at first.
	slices.Reverse(ents)
	n := 0
	for _, ent := range ents {
		name := ent.Name()
		if !ent.Type().IsRegular() || !strings.HasPrefix(name, "runsc.log.") || !strings.HasSuffix(name, ".boot.txt") {
			continue
		}
		if info, err := ent.Info(); err != nil || info.ModTime().Before(start.Add(-2*time.Second)) {
			continue
		}
		if n++; n > maxSentryFiles {
			break
		}
		// Open for writing as well: punching a hole takes it (moat never
		// writes); read-only where that is refused, the space then kept.
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_RDWR|syscall.O_NOFOLLOW, 0)
		if err != nil {
			if f, err = os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0); err != nil {
				continue
			}
		}
		head := make([]byte, 16<<10)
		k, _ := io.ReadFull(f, head)
		if bootOf(head[:k], id) {
			if _, err := f.Seek(0, io.SeekStart); err == nil {
				return f
			}
		}
		f.Close()
	}
	return nil
}

// logFull says whether the file system of dir (a sized tmpfs: docs/gvisor.md)
// has less than 64 KiB left, where runsc's writes of a trace line fail.
func logFull(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	return uint64(st.Bavail)*uint64(st.Bsize) < 64<<10 // Bavail is int64 on freebsd
}

// bootOf says whether a boot log's head is container id's: runsc logs its
// arguments first, the container's id last.
func bootOf(head []byte, id string) bool {
	for _, l := range bytes.Split(head, []byte("\n")) {
		if bytes.Contains(l, []byte("] Args: [")) && bytes.Contains(l, []byte(" boot ")) {
			return bytes.HasSuffix(bytes.TrimSpace(l), []byte(" "+id+"]"))
		}
	}
	return false
}
