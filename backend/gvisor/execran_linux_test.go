package gvisor

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestChangedSince: a file an exec ran is taken as changed after the
// exec when it, a directory on its way, or a link's target was renamed,
// linked or written there since; untouched, it is not.
func TestChangedSince(t *testing.T) {
	r := &runner{scratch: t.TempDir()}
	r.persona.Home = "/home/dev"
	work := filepath.Join(r.scratch, "work")
	for _, d := range []string{"work/a", "work/b", "work/venv/bin", "work/keep"} {
		if err := os.MkdirAll(filepath.Join(r.scratch, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(work, rel), []byte(rel), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("tool")
	write("tool.new")
	write("a/x")
	write("b/x")
	write("keep/x")
	write("real")
	if err := os.Symlink("../../real", filepath.Join(work, "venv/bin/python")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // change times apart from the exec's
	at := time.Now()
	time.Sleep(20 * time.Millisecond)
	// after the exec: a rename over the file, a directory renamed over the
	// one on its way, and the link's target replaced
	if err := os.Rename(filepath.Join(work, "tool.new"), filepath.Join(work, "tool")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(work, "b"), filepath.Join(work, "a2")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(work, "a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(work, "a2"), filepath.Join(work, "a")); err != nil {
		t.Fatal(err)
	}
	write("real.new")
	if err := os.Rename(filepath.Join(work, "real.new"), filepath.Join(work, "real")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"/work/tool":            true,
		"/work/a/x":             true,
		"/work/venv/bin/python": true,
		"/work/keep/x":          false,
		"/work/missing":         false,
		"/etc/passwd":           false,
	} {
		if got := r.changedSince(p, at, maxExecLinks); got != want {
			t.Errorf("changedSince(%s) = %v, want %v", p, got, want)
		}
	}
	// a link whose target is untouched is not changed
	if err := os.Symlink("keep/x", filepath.Join(work, "lnk")); err != nil {
		t.Fatal(err)
	}
	if r.changedSince("/work/lnk", time.Now(), maxExecLinks) {
		t.Error("changedSince(/work/lnk) of an untouched target")
	}
}
