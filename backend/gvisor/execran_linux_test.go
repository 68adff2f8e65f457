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

// TestHashRanFallback: an exec execRan did not read is hashed at the end,
// and given no hash if its file changed after the exec; one it read keeps
// the hash it read, the file since replaced or removed.
func TestHashRanFallback(t *testing.T) {
	start := time.Now()
	r := &runner{scratch: t.TempDir(), rep: &report{start: start}}
	r.persona.Home = "/home/dev"
	work := filepath.Join(r.scratch, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"kept", "swapped", "swapped.new", "read"} {
		if err := os.WriteFile(filepath.Join(work, f), []byte(f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	ms := time.Since(start).Milliseconds()
	r.execRan([]byte("I"+time.Now().Format("0102 15:04:05.000000")+"    4551 strace.go:567] [   3:   3] python3 E execve(0x5 /work/read, 0x6 [\"read\"], 0x7 [])\n"+
		"I"+time.Now().Format("0102 15:04:05.000000")+"    4551 strace.go:605] [   3:   3] read X execve(0x5 /work/read, 0x6 [\"read\"], 0x7 []) = 0 (0x0) (1ms)\n"), time.Now(), []string{"/work"})
	time.Sleep(20 * time.Millisecond)
	if err := os.Rename(filepath.Join(work, "swapped.new"), filepath.Join(work, "swapped")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(work, "read")); err != nil {
		t.Fatal(err)
	}
	if h := r.hashRan("/work/kept", ms); h.SHA256 == "" || h.Replaced {
		t.Errorf("kept: %+v", h)
	}
	if h := r.hashRan("/work/swapped", ms); !h.Replaced {
		t.Error("swapped after the exec: not said replaced")
	}
	r.ran.mu.Lock()
	n := len(r.ran.m)
	var readMS int64 = -1
	for k := range r.ran.m {
		readMS = k.ms
	}
	r.ran.mu.Unlock()
	if n != 1 {
		t.Fatalf("execRan kept %d execs, want 1", n)
	}
	if h := r.hashRan("/work/read", readMS); h.SHA256 == "" || h.Replaced {
		t.Errorf("read by execRan, then removed: %+v", h)
	}
}
