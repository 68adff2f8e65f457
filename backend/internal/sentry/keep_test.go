package sentry

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
)

// Lines as runsc 20221219 writes them at debug level: the trace, the
// profile's refusals, and what is not kept (gofer messages, a forged
// refusal inside a traced argument, an over-long line).
const sentryLines = `D1205 11:35:13.356837   21136 client.go:400] recv [channel 0xc000485680] OpenAtResp{OpenFD: 165}
D1205 11:35:14.084329   21136 task_syscall.go:240] [   1:   1] Syscall 165: denied by seccomp
D1205 11:35:14.098518   21136 task_syscall.go:240] [  7:   9] Syscall 16: denied by seccomp
I1205 11:35:14.100000   21136 strace.go:567] [   1:   1] python3 E execve(0x1 /bin/x\n[ 1: 1] Syscall 165: denied by seccomp, 0x2 ["x"], 0x3 [])
D1205 11:35:14.200000   21136 task_syscall.go:240] [   1:   1] Syscall 99999: denied by seccomp
`

// TestKeep: the profile's refusals in the Sentry's debug log are
// kernel denied events named by native's deny list, with the caller's
// pid; only the trace and those lines are kept, within the bound, and a
// line longer than the reader's buffer is skipped without stopping it.
func TestKeep(t *testing.T) {
	var kept bytes.Buffer
	cut := 0
	in := sentryLines + strings.Repeat("x", 200<<10) + ": denied by seccomp\n" + sentryLines
	Keep(strings.NewReader(in), &kept, &cut)
	if strings.Contains(kept.String(), "client.go") || strings.Contains(kept.String(), "xxxx") || cut != 0 {
		t.Fatalf("kept %q, cut %d", kept.String(), cut)
	}
	start := time.Date(2026, 12, 5, 11, 35, 14, 0, time.Local)
	evs, _ := Parse(bytes.NewReader(kept.Bytes()), start, 100, Options{})
	var denied []string
	for _, e := range evs {
		if e.Kind == "denied" {
			denied = append(denied, e.Name)
			if e.Source != "kernel" || (e.Name == "ioctl" && e.PID != 7) {
				t.Errorf("event %+v", e)
			}
		}
	}
	if strings.Join(denied, ",") != "mount,ioctl,syscall 99999,mount,ioctl,syscall 99999" {
		t.Errorf("denied events %v", denied)
	}
}

// TestKeepWithinFlood: 2,500 failing execs of long argv (past MaxBytes
// once each line is cut to keepHead+keepTail) and connects to 500
// distinct hosts, then the payload: KeepWithin judges each exec and
// connect as it is read, so the flood costs counts, nothing is cut, and
// the payload's exec and connect are parsed from what is kept. Keep, with
// no budget, cuts the payload away.
func TestKeepWithinFlood(t *testing.T) {
	long := strings.Repeat(`, "`+strings.Repeat("A", 1000)+`"`, 10)
	write := func(w *io.PipeWriter) {
		for i := range 2500 {
			for _, l := range []string{floodEntry, floodExit} {
				fmt.Fprintf(w, strings.Replace(l, `["x"]`, `["x"`+long+`]`, 1), i)
			}
		}
		for i := range 500 {
			fmt.Fprintf(w, "I1206 08:25:57.100000    4551 strace.go:567] [   1:   1] python3 E connect(0x3 socket:[1], 0x7f64e6cf2f90 {Family: AF_INET, Addr: 10.0.%d.%d, Port: 80}, 0x10)\n", i/250, i%250)
			io.WriteString(w, "I1206 08:25:57.100001    4551 strace.go:605] [   1:   1] python3 X connect(0x3 socket:[1], 0x7f64e6cf2f90 {Family: AF_INET, Addr: 10.0.0.1, Port: 80}, 0x10) = 0 (0x0) errno=101 (network is unreachable) (1µs)\n")
		}
		io.WriteString(w, payloadExec+payloadRan+strings.Replace(payloadConn, "[   1:   1]", "[  43:  43]", 1))
		w.Close()
	}
	keep := func(b *kbudget.Budget) (evs []moat.Event, kept, cut int) {
		r, w := io.Pipe()
		go write(w)
		var buf bytes.Buffer
		KeepWithin(r, &buf, &cut, b)
		evs, _ = Parse(bytes.NewReader(buf.Bytes()), time.Date(2026, 12, 6, 8, 25, 57, 0, time.Local), kbudget.MaxEvents, Options{})
		return evs, buf.Len(), cut
	}
	payload := func(evs []moat.Event) (shell, conn bool) {
		for _, e := range evs {
			shell = shell || (e.Kind == "exec" && e.Detail == "/bin/sh -c cat /etc/shadow")
			conn = conn || (e.Kind == "connect" && e.Addr == "203.0.113.7:443")
		}
		return
	}
	var b kbudget.Budget
	evs, kept, cut := keep(&b)
	shell, conn := payload(evs)
	ev, n, ok := b.Event("x")
	if cut != 0 || !shell || !conn || kept > 8<<20 || !ok || n < 2500-kbudget.Reserve(moat.KindExecFailed) ||
		!strings.Contains(ev.Detail, "exec-failed") || !strings.Contains(ev.Detail, "connect") {
		t.Errorf("within a budget: cut %d, kept %d KiB, payload exec %v connect %v; the budget's drops %d %+v", cut, kept>>10, shell, conn, n, ev)
	}
	evs, _, cut = keep(nil)
	if shell, conn := payload(evs); cut == 0 || shell || conn {
		t.Errorf("with no budget: cut %d, payload exec %v connect %v: want it cut away (the flood too small?)", cut, shell, conn)
	}
}

// TestKeepWatching: the Watch is told of each exec that ran as its exit
// is read, with the time its exit was logged and every absolute working
// directory seen so far; not of one that failed.
func TestKeepWatching(t *testing.T) {
	log := `I1206 08:25:57.100000    4551 strace.go:599] [   1:   1] python3 X chdir(0x7f9f9a967e60 /tmp/a) = 0 (0x0) (9.728µs)
I1206 08:25:57.100001    4551 strace.go:599] [   1:   1] python3 X chdir(0x7f9f9a967e60 rel) = 0 (0x0) (9.728µs)
I1206 08:25:57.200000    4551 strace.go:567] [   3:   3] python3 E execve(0x560011c34f50 ./x, 0x560011c34f70 ["./x"], 0x560011c351d8 [])
I1206 08:25:57.200500    4551 strace.go:605] [   3:   3] x X execve(0x560011c34f50 ./x, 0x560011c34f70 ["./x"], 0x560011c351d8 []) = 0 (0x0) (1ms)
I1206 08:25:57.300000    4551 strace.go:567] [   4:   4] python3 E execve(0x560011c34f50 /work/y, 0x560011c34f70 ["y"], 0x560011c351d8 [])
I1206 08:25:57.300100    4551 strace.go:605] [   4:   4] python3 X execve(0x560011c34f50 /work/y, 0x560011c34f70 ["y"], 0x560011c351d8 []) = -1 (0xffffffffffffffff) errno=2 (no such file or directory) (10µs)
`
	type ran struct {
		msg  string
		at   time.Time
		dirs []string
	}
	var got []ran
	var buf bytes.Buffer
	cut := 0
	KeepWatching(strings.NewReader(log), &buf, &cut, &kbudget.Budget{Max: kbudget.MaxEvents}, Watch{Cwd: "/work", Ran: func(msg []byte, at time.Time, dirs []string) {
		got = append(got, ran{string(msg), at, append([]string(nil), dirs...)})
	}})
	if len(got) != 1 {
		t.Fatalf("told of %d execs, want 1: %+v", len(got), got)
	}
	g := got[0]
	if !strings.Contains(g.msg, " E execve(0x560011c34f50 ./x,") || !strings.Contains(g.msg, " X execve(") {
		t.Errorf("msg %q", g.msg)
	}
	if strings.Join(g.dirs, ",") != "/work,/tmp/a" {
		t.Errorf("dirs %v", g.dirs)
	}
	if g.at.Format("0102 15:04:05.000000") != "1206 08:25:57.200500" {
		t.Errorf("at %v", g.at)
	}
	// Parse of the message alone, from each directory, names the file whole
	var paths []string
	for _, d := range g.dirs {
		Parse(strings.NewReader(g.msg), time.Now(), 0, Options{Cwd: d, CwdAll: true, Hash: func(p string, _ int64) Hashed {
			paths = append(paths, p)
			return Hashed{}
		}})
	}
	if strings.Join(paths, ",") != "/work/x,/tmp/a/x" {
		t.Errorf("paths %v", paths)
	}
}
