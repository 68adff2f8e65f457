package sentry

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Lines as runsc 20221219 writes them (trimmed environments) for a
// program that hides its exec in the trace: a newline in the path it
// executes (a symlink "/tmp/a\nb" to python3), in its task name
// (prctl PR_SET_NAME "x\nhidden"), a comma in the path ("/tmp/a,b"),
// and a path whose second line forges
// the start of another message.
const straceNewlines = `I1205 14:54:07.311857   10704 strace.go:611] [   1:   1] python3.11 X clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|0x11, 0x0, 0x0, 0x7fa4e7a51e50, 0x0) = 2 (0x2) (8.215485ms)
I1205 14:54:07.506353   10704 strace.go:567] [   2:   2] python3.11 E execve(0x7fa4e7205490 /tmp/a
b, 0x7fa4e713b810 ["python3", "-c", "print('EXECUTED-BY-HIDDEN')"], 0x7f2d40a37d00 ["TMPDIR=/tmp", "LANG=C.UTF-8"])
I1205 14:54:07.511071   10704 strace.go:605] [   2:   2] python3.11 X execve(0x7fa4e7205490 /tmp/a
b, 0x7fa4e713b810 ["python3", "-c", "print('EXECUTED-BY-HIDDEN')"], 0x7f2d40a37d00 ["TMPDIR=/tmp", "LANG=C.UTF-8"]) = 0 (0x0) (4.6ms)
I1205 14:54:15.366069   11178 strace.go:567] [   3:   3] x
hidden E execve(0x7fdba7f591d0 /usr/bin/python3.11, 0x7fdba7c69bf0 ["python3", "-c", "print('EXECUTED-BY-HIDDEN')"], 0x7fe2171a0d20 ["HOME=/home/ci"])
I1205 14:54:15.367450   11178 strace.go:605] [   3:   3] x
hidden X execve(0x7fdba7f591d0 /usr/bin/python3.11, 0x7fdba7c69bf0 ["python3", "-c", "print('EXECUTED-BY-HIDDEN')"], 0x7fe2171a0d20 ["HOME=/home/ci"]) = 0 (0x0) (1.4ms)
I1205 14:54:15.500000   11178 strace.go:567] [   5:   5] python3.11 E execve(0x7fa4e7205490 /tmp/a,b, 0x7fa4e713b810 ["python3", "-c", "print('EXECUTED-BY-HIDDEN')"], 0x7f2d40a37d00 ["TMPDIR=/tmp"])
I1205 14:54:16.000000   11178 strace.go:567] [   4:   4] python3.11 E execve(0x7fdba7f591d0 /tmp/c
I1205 14:54:16.000000   11178 strace.go:567] [   9:   9] z E socket(0x1, 0x1, 0x0, ["x"], 0x7fe2171a0d20 [])
D1205 14:54:16.100000   11178 client.go:400] recv [channel 0xc000485680] OpenAtResp{OpenFD: 165}
not a message of the trace
`

// TestParseNewlines: a raw newline in the executed path or the task
// name, or a comma in the path, does not hide the exec from the trace (the Sentry prints both
// unquoted; Keep and Parse join the lines), and a message cut by a
// forged start is an event (kind trace) rather than nothing.
func TestParseNewlines(t *testing.T) {
	var kept bytes.Buffer
	cut := 0
	Keep(strings.NewReader(straceNewlines), &kept, &cut)
	if strings.Contains(kept.String(), "client.go") || strings.Contains(kept.String(), "not a message") {
		t.Errorf("kept %q", kept.String())
	}
	start := time.Date(2026, 12, 5, 14, 54, 7, 0, time.Local)
	evs, dropped := Parse(bytes.NewReader(kept.Bytes()), start, 100, Options{})
	var got []string
	for _, e := range evs {
		got = append(got, string(e.Kind)+" "+e.Path+" "+e.Detail)
		if e.Source != "kernel" || strings.ContainsAny(e.Path+e.Detail, "\n") {
			t.Errorf("event %+v", e)
		}
	}
	want := []string{
		`exec /tmp/a\x0ab python3 -c print('EXECUTED-BY-HIDDEN')`,
		`exec /usr/bin/python3.11 python3 -c print('EXECUTED-BY-HIDDEN')`,
		`exec /tmp/a,b python3 -c print('EXECUTED-BY-HIDDEN')`,
		`trace  a line of the Sentry's trace moat could not read (a raw newline in a task name or path?): I1205 14:54:16.000000   11178 strace.go:567] [   4:   4] python3.11 E execve(0x7fdba7f591d0 /tmp/c`,
	}
	if dropped != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%d dropped, got\n%s\nwant\n%s", dropped, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(evs) < 2 || evs[1].PPID != 0 || evs[0].PID != 2 || evs[0].PPID != 1 {
		t.Errorf("pids: %+v", evs)
	}
}

// TestKeepLongTrace: a trace line longer than Keep's buffer (an exec
// with a long argv: runsc prints every argument) is kept cut, and its
// exec read; the line after it is read too.
func TestKeepLongTrace(t *testing.T) {
	long := `I1205 14:54:07.506353   10704 strace.go:567] [   2:   2] python3.11 E execve(0x7fa4e7205490 /usr/bin/python3.11, 0x7fa4e713b810 ["python3", "-c", "print('EXECUTED-LONG')"` +
		strings.Repeat(`, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"`, 2000) + `], 0x7f2d40a37d00 ["TMPDIR=/tmp"])` + "\n"
	next := `I1205 14:54:08.000000   10704 strace.go:567] [   1:   1] python3.11 E connect(0x3 socket:[1], 0x7f64e6cf2f90 {Family: AF_INET, Addr: 203.0.113.5, Port: 80}, 0x10)` + "\n"
	var kept bytes.Buffer
	cut := 0
	Keep(strings.NewReader(long+next), &kept, &cut)
	evs, _ := Parse(bytes.NewReader(kept.Bytes()), time.Date(2026, 12, 5, 14, 54, 7, 0, time.Local), 100, Options{})
	if len(evs) != 2 || evs[0].Kind != "exec" || evs[0].Path != "/usr/bin/python3.11" || !strings.HasPrefix(evs[0].Detail, "python3 -c print('EXECUTED-LONG') AAAA") ||
		evs[1].Kind != "connect" || kept.Len() > 70<<10 {
		t.Errorf("kept %d bytes, events %+v", kept.Len(), evs)
	}
}

// TestParseReserve: a flood of one kind (sockets of a family the Sentry
// lacks, which fail at once) fills only its own reserve: the exec and
// connect after it are kept, the rest of the flood counted.
func TestParseReserve(t *testing.T) {
	var log strings.Builder
	for range 3000 {
		log.WriteString("I1204 19:43:10.600000   15455 strace.go:605] [   1:   1] python3.11 X socket(AF_VSOCK, SOCK_STREAM|SOCK_CLOEXEC, 0x0) = 0 (0x0) errno=97 (address family not supported by protocol) (25.629µs)\n")
	}
	log.WriteString(`I1204 19:43:11.200000   15455 strace.go:567] [   3:   3] python3.11 E execve(0x7f4d765b5031 /bin/sh, 0x7f4d75dff740 ["sh", "-c", "id"], 0x7fe9100cdcc0 ["A=1"])` + "\n")
	log.WriteString(`I1204 19:43:11.300000   15455 strace.go:567] [   1:   1] python3.11 E connect(0x3 socket:[1], 0x7f64e6cf2f90 {Family: AF_INET, Addr: 203.0.113.5, Port: 80}, 0x10)` + "\n")
	evs, dropped := Parse(strings.NewReader(log.String()), time.Date(2026, 12, 4, 19, 43, 10, 0, time.Local), 1000, Options{})
	kinds := map[string]int{}
	for _, e := range evs {
		kinds[string(e.Kind)]++
	}
	if kinds["exec"] != 1 || kinds["connect"] != 1 || kinds["socket"] == 0 || dropped != 3000-kinds["socket"] {
		t.Errorf("kept %v, %d dropped", kinds, dropped)
	}
}
