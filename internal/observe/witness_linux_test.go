package observe

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
)

// TestWitness: a read moves the access time, setting the times back
// moves the change time, a removed file is still checked, and the
// witness itself reads nothing.
func TestWitness(t *testing.T) {
	dir := t.TempDir()
	var files []Root
	for _, n := range []string{"untouched", "read", "mmapped", "reset", "removed"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, Root{Path: "/home/u/" + n, Host: p})
	}
	w, err := ArmWitness(files)
	if err != nil {
		t.Skipf("no witness on %s: %v", dir, err)
	}
	if _, err := os.ReadFile(filepath.Join(dir, "read")); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "mmapped"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, 6, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	_ = m[0]
	_ = syscall.Munmap(m)
	f.Close()
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "reset"), &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.UtimesNano(filepath.Join(dir, "reset"), []unix.Timespec{st.Atim, st.Mtim}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "removed")); err != nil {
		t.Fatal(err)
	}
	got := map[string]moat.Kind{}
	for _, e := range w.Check(7) {
		if e.Source != moat.SourceKernel || e.TimeMS != 7 {
			t.Errorf("event %+v", e)
		}
		got[e.Path] += e.Kind + ";"
	}
	want := map[string]moat.Kind{
		"/home/u/read":    moat.KindHoneytokenRead + ";",
		"/home/u/mmapped": moat.KindHoneytokenRead + ";",
		"/home/u/reset":   moat.KindHoneytokenAltered + ";",
		"/home/u/removed": moat.KindHoneytokenAltered + ";",
	}
	for p, k := range want {
		if got[p] != k {
			t.Errorf("%s: %q, want %q", p, got[p], k)
		}
	}
	if k, ok := got["/home/u/untouched"]; ok {
		t.Errorf("untouched: %q", k)
	}
}
