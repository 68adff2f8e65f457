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
	sentrylog "github.com/moat-sandbox/moat/backend/internal/sentry"
	"github.com/moat-sandbox/moat/internal/observe"
)

// gVisor as Docker's runtime (gVisor's --image) refuses the init's seccomp
// listener, so the kernel side of the report comes from the Sentry's own
// log instead: runsc registered with the daemon to trace (--debug --strace
// --strace-syscalls=execve,execveat,connect,clone,fork,vfork,socket
// --debug-log=DIR/ --debug-command=boot; .ci/setup-runsc-trace.sh) writes one
// boot log per container into DIR, which moat reads after the run, when
// the daemon is on this host and moat may read DIR, and then removes. The
// program cannot write there; the Sentry quotes what it traces.

// sentryLogDir returns the directory the daemon's runtime rt writes
// traced boot logs to, or why there is none.
func sentryLogDir(ctx context.Context, e *engine, rt string) (dir, off string) {
	if !strings.HasPrefix(e.cli.DaemonHost(), "unix://") {
		return "", "the daemon is not on this host"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	i, err := e.cli.Info(ctx)
	if err != nil {
		return "", "docker info: " + err.Error()
	}
	r, ok := i.Runtimes[rt]
	if !ok {
		return "", "the daemon has no runtime " + rt
	}
	debug, strace, syscalls, command := false, false, "", ""
	for _, a := range r.Args {
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
		return "", "the runtime " + rt + " is not registered to trace (--debug --strace --strace-syscalls=" + sentrylog.Syscalls +
			" --debug-log=DIR/ --debug-command=boot: docs/gvisor.md)"
	}
	return dir, ""
}

// maxSentryFiles bounds the boot logs opened for a container's: those
// begun since the run started (older ones, such as a killed run's left
// behind, are passed over unopened and do not count).
const maxSentryFiles = 1024

// sentryEvents reads, from dir, the boot log of container id (runsc
// names it by time: its first lines name the container), begun no
// earlier than start, and removes it.
func sentryEvents(dir, id string, start time.Time) (evs []moat.Event, dropped int, off string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, "read " + dir + ": " + err.Error()
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
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		head := make([]byte, 16<<10)
		k, _ := io.ReadFull(f, head)
		if !bootOf(head[:k], id) {
			f.Close()
			continue
		}
		var kept bytes.Buffer
		cut := 0
		if _, err := f.Seek(0, io.SeekStart); err == nil {
			sentrylog.Keep(f, &kept, &cut)
		}
		f.Close()
		if logFull(dir) {
			cut++ // runsc may have lost lines it could not write
		}
		_ = os.Remove(p)
		evs, dropped = sentrylog.Parse(&kept, start, observe.MaxKernelEvents, sentrylog.Options{})
		return evs, dropped + cut, ""
	}
	return nil, 0, "no boot log of the container in " + dir
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
