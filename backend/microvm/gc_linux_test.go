package microvm

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/moat-sandbox/moat/internal/local"
	"golang.org/x/sys/unix"
)

// TestGC: a run directory whose lock no one holds is removed; one held by
// a live run stays.
func TestGC(t *testing.T) {
	if err := os.MkdirAll(runBase(), 0o700); err != nil {
		t.Fatal(err)
	}
	dead, live := idPrefix+"gctest-dead-"+local.NewID(), idPrefix+"gctest-live-"+local.NewID()
	var held *os.File
	for _, id := range []string{dead, live} {
		dir := filepath.Join(runBase(), id)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		f, err := os.Create(filepath.Join(dir, "lock"))
		if err != nil {
			t.Fatal(err)
		}
		if id == live {
			if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
				t.Fatal(err)
			}
			held = f
			continue
		}
		f.Close()
	}
	defer held.Close()
	removed, err := GC(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, "run directory "+dead) {
		t.Errorf("removed %q, want %s among them", removed, dead)
	}
	if _, err := os.Stat(filepath.Join(runBase(), live)); err != nil {
		t.Errorf("the live run's directory: %v", err)
	}
}
