package idle

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	stat := "cpu  100 5 50 800 40 1 2 3 7 0\ncpu0 50 2 25 400 20 1 1 1 0 0\ncpu1 50 3 25 400 20 0 1 2 0 0\nintr 1 2 3\nctxt 9\n"
	idle, total, cores, ok := parse([]byte(stat))
	if !ok || idle != 840 || total != 1001 || cores != 2 {
		t.Fatalf("parse = %d %d %d %v, want 840 1001 2 true", idle, total, cores, ok)
	}
	for _, bad := range []string{"", "intr 1 2\n", "cpu 1 2 x 4 5\ncpu0 1\n", "cpu 1 2 3 4 5\n"} {
		if _, _, _, ok := parse([]byte(bad)); ok {
			t.Errorf("parse(%q) ok, want not", bad)
		}
	}
}

func TestSpare(t *testing.T) {
	var n int
	// Two cores; between the reads, 300 of 400 ticks idle: 1.5 cores.
	reads := [][2]uint64{{100, 1000}, {400, 1400}}
	m := &Meter{readCounts: func() (uint64, uint64, int, bool) {
		r := reads[min(n, len(reads)-1)]
		n++
		return r[0], r[1], 2, true
	}}
	if s := m.Spare(); s != 0 {
		t.Fatalf("first Spare = %v, want 0 (nothing measured yet)", s)
	}
	m.at = m.at.Add(-Window) // the window has passed
	if s := m.Spare(); s != 1.5 {
		t.Fatalf("Spare = %v, want 1.5", s)
	}
	if s := m.Spare(); s != 1.5 || n != 2 {
		t.Fatalf("Spare within the window = %v after %d reads, want 1.5 after 2 (no read)", s, n)
	}
	m.at = time.Time{}
	m.readCounts = func() (uint64, uint64, int, bool) { return 0, 0, 0, false }
	if s := m.Spare(); s != 0 {
		t.Fatalf("Spare when unreadable = %v, want 0 (it cannot tell)", s)
	}
}

// The kernel's own /proc/stat parses, and the idle share of it is
// within the cores.
func TestCountsReal(t *testing.T) {
	idle, total, cores, ok := counts()
	if !ok || cores < 1 || idle > total {
		t.Fatalf("counts = %d %d %d %v, want idle <= total, cores >= 1", idle, total, cores, ok)
	}
	var m Meter
	m.Spare()
	time.Sleep(Window + 20*time.Millisecond)
	if s := m.Spare(); s < 0 || s > float64(cores) {
		t.Fatalf("Spare = %v, want 0 to %d", s, cores)
	}
}
