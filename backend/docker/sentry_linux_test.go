package docker

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
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
