package gvisor

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGCMounts: the bundle of a run killed with its mounts in place (a
// test binary's timeout, a SIGKILL) is removed by gc whole, whatever is
// mounted in it (/dev/shm's tmpfs was left behind, and the bundle with it).
func TestGCMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: gc's mounts are root's")
	}
	dir := filepath.Join("/run/moat/gvisor", idPrefix+"00000000deadbeef")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, m := range mountsUnder(dir) {
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
		_ = os.RemoveAll(dir)
	})
	for _, sub := range []string{"scratch", "shm", "scratch/nested"} {
		p := filepath.Join(dir, sub)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", p, "tmpfs", 0, "size=64k"); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := GC(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, "gvisor sandbox "+filepath.Base(dir)) {
		t.Errorf("gc removed %q, not the stale bundle", removed)
	}
	if ms := mountsUnder(dir); len(ms) > 0 {
		t.Errorf("mounts left: %q", ms)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the bundle is still there: %v", err)
	}
}
