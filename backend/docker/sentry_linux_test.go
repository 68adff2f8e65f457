package docker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
)

// sizedTmpfs mounts a tmpfs of size on a temporary directory, unmounted
// when t ends; it skips t where that cannot be done.
func sizedTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("moat-test", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skip("cannot mount a tmpfs: ", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// TestLogFull: a boot-log directory whose sized tmpfs is full is seen as
// such (the trace is then counted cut); one with room is not.
func TestLogFull(t *testing.T) {
	dir := sizedTmpfs(t, "256k")
	if logFull(dir) {
		t.Fatal("an empty 256 KiB tmpfs is called full")
	}
	f, err := os.Create(filepath.Join(dir, "runsc.log.1.boot.txt"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	if !logFull(dir) {
		t.Fatal("a full tmpfs is not called full")
	}
}

// TestSentryEventsManyOld: a run's boot log is found among more than
// maxSentryFiles older ones (left, say, by killed runs), which are not
// opened, and is removed once read.
func TestSentryEventsManyOld(t *testing.T) {
	dir := t.TempDir()
	const id = "0123456789abcdef"
	start := time.Now()
	old := start.Add(-time.Hour)
	for i := range maxSentryFiles + 50 {
		p := filepath.Join(dir, fmt.Sprintf("runsc.log.20261205-1%05d.000000.boot.txt", i))
		if err := os.WriteFile(p, []byte("I1205 10:00:00.000000 1 main.go:1] Args: [runsc boot other]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	mine := filepath.Join(dir, "runsc.log.20261205-300000.000000.boot.txt")
	ts := start.Format("0102 15:04:05.000000")
	log := "I" + ts + " 1 main.go:1] Args: [runsc --debug boot " + id + "]\n" +
		"I" + ts + "   1 strace.go:567] [   2:   2] python3.11 E execve(0x7fa4e7205490 /usr/bin/curl, 0x7fa4e713b810 [\"curl\"], 0x7f2d40a37d00 [])\n"
	if err := os.WriteFile(mine, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	evs, _, off := sentryEvents(dir, id, start, false)
	if off != "" {
		t.Fatalf("the run's boot log was not found: %s", off)
	}
	found := false
	for _, e := range evs {
		found = found || strings.Contains(e.Path, "/usr/bin/curl")
	}
	if !found {
		t.Fatalf("no exec of /usr/bin/curl among %d events: %+v", len(evs), evs)
	}
	if _, err := os.Stat(mine); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the boot log was not removed: %v", err)
	}
}

// TestSentryTailFlood: a run that floods its boot log far past the size of
// the directory's tmpfs is drained as it writes, so neither its own Sentry
// nor a neighbour's meets a full directory: both keep their traced execs.
func TestSentryTailFlood(t *testing.T) {
	dir := sizedTmpfs(t, "1m")
	start := time.Now()
	ts := start.Format("0102 15:04:05.000000")
	head := func(id string) string { return "I" + ts + " 1 main.go:1] Args: [runsc --debug boot " + id + "]\n" }
	exec := func(path string) string {
		return "I" + ts + "   1 strace.go:567] [   2:   2] python3.11 E execve(0x7fa4e7205490 " + path + `, 0x7fa4e713b810 ["x"], 0x7f2d40a37d00 [])` + "\n"
	}
	const flooder, neighbour = "0123456789abcdef", "fedcba9876543210"
	// The flooder's Sentry: its log, appended to as runsc does.
	fa, err := os.OpenFile(filepath.Join(dir, "runsc.log.20261205-100000.000001.boot.txt"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	if _, err := fa.WriteString(head(flooder) + exec("/usr/bin/curl")); err != nil {
		t.Fatal(err)
	}
	tail := newSentryTail(dir, flooder, start)
	close(tail.done) // no draining goroutine: the test steps the tail itself
	filler := []byte(strings.Repeat("D"+ts+" 1 sys.go:1] a line the report does not read\n", 128<<10/64))
	for written := 0; written < 8<<20; written += len(filler) { // 8 MiB through 1 MiB
		if _, err := fa.Write(filler); err != nil {
			t.Fatalf("the flooder's log after %d bytes: %v", written, err)
		}
		tail.step()
	}
	if _, err := fa.WriteString(exec("/usr/bin/wget")); err != nil {
		t.Fatal(err)
	}
	// A neighbour's Sentry beside it still has room for its whole trace.
	nb := head(neighbour) + strings.Repeat(string(filler), 2) + exec("/usr/bin/nc")
	if err := os.WriteFile(filepath.Join(dir, "runsc.log.20261205-100001.000001.boot.txt"), []byte(nb), 0o644); err != nil {
		t.Fatalf("the neighbour's log: %v", err)
	}
	has := func(evs []moat.Event, path string) bool {
		return slices.ContainsFunc(evs, func(e moat.Event) bool { return strings.Contains(e.Path, path) })
	}
	evs, dropped, off := sentryEvents(dir, neighbour, start, false)
	if off != "" || dropped != 0 || !has(evs, "/usr/bin/nc") {
		t.Errorf("the neighbour's trace: %d events, %d dropped, %q; want its exec of /usr/bin/nc, none dropped", len(evs), dropped, off)
	}
	evs, dropped, off = tail.events()
	if off != "" || dropped != 0 || !has(evs, "/usr/bin/curl") || !has(evs, "/usr/bin/wget") {
		t.Errorf("the flooder's trace: %d events, %d dropped, %q; want its execs of curl and wget, none dropped", len(evs), dropped, off)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("logs left after both were read: %v", ents)
	}
}

// TestSentryRelativeExec: with chdir and fchdir traced (the registration
// of .ci/setup-runsc-trace.sh), a relative exec of the boot log is named
// from the container's working directory (pid 1's, the init's), followed
// through the fork and the caller's chdir; with a registration of neither (an older one) it is kept as
// given, never named from a directory not followed.
func TestSentryRelativeExec(t *testing.T) {
	const id = "0123456789abcdef"
	for _, c := range []struct {
		cwd  bool
		want []string
	}{
		{true, []string{"/work/tool", "/work/sub/bin/tool"}},
		{false, []string{"./tool", "bin/tool"}},
	} {
		dir := t.TempDir()
		start := time.Now()
		ts := "I" + start.Format("0102 15:04:05.000000")
		log := ts + " 1 main.go:1] Args: [runsc --debug boot " + id + "]\n" +
			ts + "   1 strace.go:611] [   1:   1] entrypoint X clone(0x1200011, 0x0, 0x0, 0x0, 0x0) = 2 (0x2) (211.822µs)\n" +
			ts + "   1 strace.go:567] [   2:   2] python3 E execve(0x7fa4e7205490 ./tool, 0x7fa4e713b810 [\"tool\"], 0x7f2d40a37d00 [])\n" +
			ts + "   1 strace.go:605] [   2:   2] tool X execve(0x7fa4e7205490 ./tool, 0x7fa4e713b810 [\"tool\"], 0x7f2d40a37d00 []) = 0 (0x0) (1ms)\n" +
			ts + "   1 strace.go:599] [   2:   2] python3 X chdir(0xa5edb0 sub) = 0 (0x0) (11.352µs)\n" +
			ts + "   1 strace.go:567] [   2:   2] python3 E execve(0x7fa4e7205490 bin/tool, 0x7fa4e713b810 [\"tool\"], 0x7f2d40a37d00 [])\n" +
			ts + "   1 strace.go:605] [   2:   2] tool X execve(0x7fa4e7205490 bin/tool, 0x7fa4e713b810 [\"tool\"], 0x7f2d40a37d00 []) = 0 (0x0) (1ms)\n"
		if err := os.WriteFile(filepath.Join(dir, "runsc.log.20261205-300000.000000.boot.txt"), []byte(log), 0o600); err != nil {
			t.Fatal(err)
		}
		evs, _, off := sentryEvents(dir, id, start, c.cwd)
		if off != "" {
			t.Fatalf("the run's boot log was not found: %s", off)
		}
		var got []string
		for _, e := range evs {
			if e.Kind == moat.KindExec {
				got = append(got, e.Path)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("chdir traced %v: execs %q, want %q", c.cwd, got, c.want)
		}
	}
}

// TestTraceArgs: the registration is read for its log directory and for
// whether it traces chdir and fchdir; one that traces neither is still a
// trace (an older moat's), one without the execs is none.
func TestTraceArgs(t *testing.T) {
	base := []string{"--platform=ptrace", "--debug", "--strace", "--debug-log=/var/log/moat-runsc/", "--debug-command=boot"}
	for _, c := range []struct {
		syscalls         string
		on, cwd, listens bool
	}{
		{"execve,execveat,connect,clone,fork,vfork,socket,chdir,fchdir,bind,listen", true, true, true},
		{"execve,execveat,connect,clone,fork,vfork,socket,chdir,fchdir", true, true, false},
		{"execve,execveat,connect,clone,fork,vfork,socket,bind,listen", true, false, true},
		{"execve,execveat,connect,clone,fork,vfork,socket,chdir,fchdir,bind", true, true, false},
		{"execve,execveat,connect,clone,fork,vfork,socket", true, false, false},
		{"execve,execveat,connect,clone,fork,vfork,socket,chdir", true, false, false},
		{"execve,connect,clone,fork,vfork,socket,chdir,fchdir", false, false, false},
	} {
		dir, off, cwd, listens := traceArgs(append(slices.Clone(base), "--strace-syscalls="+c.syscalls), "runsc")
		if (off == "") != c.on || cwd != c.cwd || listens != c.listens || c.on && dir != "/var/log/moat-runsc/" {
			t.Errorf("%s: dir %q off %q cwd %v listens %v; want on %v cwd %v listens %v", c.syscalls, dir, off, cwd, listens, c.on, c.cwd, c.listens)
		}
	}
}
