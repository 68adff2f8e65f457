package observe

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

func failedExec(p string) moat.Event {
	return moat.Event{Source: moat.SourceKernel, Kind: moat.KindExecFailed, Path: p, Detail: "fc-list :style=" + p}
}

// TestKernelBudgetFlood: failing execs of 3,000 different files fill
// their own reserve, are counted as a flood ("kernel"), and the exec and
// connect that follow are kept.
func TestKernelBudgetFlood(t *testing.T) {
	var b KernelBudget
	for i := range 3000 {
		b.Keep(failedExec(fmt.Sprintf("/nonexistent/x%d", i)))
	}
	if !b.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, Path: "/bin/sh", Detail: "sh -c cat /etc/shadow"}) ||
		!b.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindConnect, Addr: "203.0.113.7:443"}) {
		t.Fatal("the payload after the flood was dropped")
	}
	ev, n, ok := b.Event("kernel events")
	if !ok || ev.Name != string(moat.SourceKernel) || n != 3000-KernelReserve(moat.KindExecFailed) {
		t.Errorf("drop event %+v, %d dropped: want a kernel flood of %d", ev, n, 3000-KernelReserve(moat.KindExecFailed))
	}
}

// TestKernelBudgetPathSearch: a test suite that looks for a tool the
// machine lacks along PATH in every test (pygments' fc-list, whatever its
// arguments) fails on the same few files: each is kept MaxFailedRepeats
// times, the rest counted as repeats, which are no flood.
func TestKernelBudgetPathSearch(t *testing.T) {
	var b KernelBudget
	kept := 0
	dirs := []string{"/work/.venv/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}
	for i := range 100 {
		for _, d := range dirs {
			ev := failedExec(d + "/fc-list")
			ev.Detail += fmt.Sprint(i) // arguments differ from test to test
			if b.Keep(ev) {
				kept++
			}
		}
	}
	if kept != len(dirs)*MaxFailedRepeats {
		t.Errorf("kept %d failed execs, want %d", kept, len(dirs)*MaxFailedRepeats)
	}
	ev, n, ok := b.Event("kernel events")
	if !ok || ev.Name != "kernel-repeats" || n != 100*len(dirs)-kept || !strings.Contains(ev.Detail, "exec-failed (repeated)") {
		t.Errorf("drop event %+v, %d dropped: want only repeats", ev, n)
	}
	// A loop of one command that runs is kept MaxRepeats times.
	var c KernelBudget
	kept = 0
	for range 50 {
		if c.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, Path: "/bin/true", Detail: "true"}) {
			kept++
		}
	}
	if kept != MaxRepeats {
		t.Errorf("kept %d runs of true, want %d", kept, MaxRepeats)
	}
}

func TestConnectHost(t *testing.T) {
	for addr, want := range map[string]string{
		"203.0.113.7:443": "203.0.113.7", "127.0.0.1:8080": "loopback", "127.9.9.9:1": "loopback",
		"[::1]:80": "loopback", "[::ffff:127.0.0.1]:80": "loopback", "[2001:db8::1]:53": "2001:db8::1",
		"2001:db8::1": "2001:db8::1", "[::ffff:203.0.113.7]:80": "203.0.113.7",
	} {
		if got := connectHost(addr); got != want {
			t.Errorf("connectHost(%q) = %q, want %q", addr, got, want)
		}
	}
}
