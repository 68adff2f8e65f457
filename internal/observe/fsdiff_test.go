package observe

import (
	"fmt"
	"testing"
	"time"
)

// A .pth written after more throwaway files than MaxFSEvents keeps its
// event (with its first bytes), and the throwaway files over the bound are
// counted.
func TestDiffPersistenceFirst(t *testing.T) {
	after := Snapshot{}
	for i := 0; i < MaxFSEvents+100; i++ {
		after[fmt.Sprintf("/tmp/a/junk%04d", i)] = FileState{Size: 1, Ino: uint64(i + 1)}
	}
	pth := "/work/.venv/lib/python3.11/site-packages/zz.pth"
	after[pth] = FileState{Size: 9, Ino: 99999}
	d := &Differ{Read: func(string, int64) ([]byte, error) { return []byte("import os"), nil }, Deadline: time.Now().Add(time.Minute)}
	evs, dropped := d.Diff(Snapshot{}, after)
	if dropped != 101 {
		t.Errorf("dropped %d, want 101", dropped)
	}
	for _, e := range evs {
		if e.Path == pth && e.Data == "import os" {
			return
		}
	}
	t.Fatalf("the .pth is not among the %d events kept", len(evs))
}
