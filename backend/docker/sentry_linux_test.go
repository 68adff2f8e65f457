package docker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLogFull: a boot-log directory whose sized tmpfs is full is seen as
// such (the trace is then counted cut); one with room is not.
func TestLogFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("moat-test", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skip("cannot mount a tmpfs: ", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
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
	evs, _, off := sentryEvents(dir, id, start)
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
