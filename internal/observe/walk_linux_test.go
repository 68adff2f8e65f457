package observe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
)

// TestWalkDeep: a tree deeper than MaxFSDepth is walked down to there and
// not below, the rest of the roots is walked, and the diff says the walk
// was cut (a finding of the report); one of 2,100 levels, past PATH_MAX,
// the same.
func TestWalkDeep(t *testing.T) {
	for _, levels := range []int{MaxFSDepth + 20, 2100} {
		root := t.TempDir()
		fd, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		for range levels {
			if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
				t.Fatal(err)
			}
			next, err := unix.Openat(fd, "d", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
			unix.Close(fd)
			if err != nil {
				t.Fatal(err)
			}
			fd = next
		}
		unix.Close(fd)
		if err := os.WriteFile(filepath.Join(root, "z.pth"), []byte("import os\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		snap, cut := WalkCut([]Root{{Path: "/work", Host: root}}, time.Now().Add(time.Minute))
		deepest := "/work" + strings.Repeat("/d", MaxFSDepth)
		if _, ok := snap[deepest]; !ok || len(snap) != MaxFSDepth+1 {
			t.Errorf("%d levels: %d entries, the deepest walked %v; want %d levels and z.pth", levels, len(snap), ok, MaxFSDepth)
		}
		if _, ok := snap["/work/z.pth"]; !ok {
			t.Errorf("%d levels: the file beside the deep tree was not walked", levels)
		}
		if !strings.Contains(cut, "a tree deeper than 256 levels was not walked below /work/d/d/d") {
			t.Errorf("%d levels: cut %q", levels, cut)
		}
		evs, _ := (&Differ{Cut: cut}).Diff(Snapshot{}, snap)
		said := false
		for _, e := range evs {
			said = said || (e.Source == moat.SourceMoat && e.Kind == moat.KindReportCut && strings.Contains(e.Detail, "deeper than"))
		}
		if !said {
			t.Errorf("%d levels: the diff does not say the walk was cut", levels)
		}
	}
}
