package gvisor

import (
	"strings"
	"testing"
	"time"
)

// Lines as runsc 20221219 writes them (trimmed environments).
const straceLog = `I1126 23:06:54.553181   10028 main.go:230] 		Strace: true, max size: 1024, syscalls: execve,execveat,connect
I1126 23:06:54.607173   10028 strace.go:567] [   3:   3] python3 E execve(0x7f8e74b59370 /bin/true, 0x7f8e74b59730 ["/bin/true", "a\nb"], 0x7f8e74b59758 ["PATH=/bin"])
I1126 23:06:54.607299   10028 strace.go:605] [   3:   3] python3 X execve(0x7f8e74b59370 /bin/true, 0x7f8e74b59730 ["/bin/true"], 0x7f8e74b59758 []) = 0 (0x0) errno=2 (no such file or directory) (98.718µs)
I1126 23:06:56.751063   10028 strace.go:567] [   1:   1] python3 E connect(0x3 socket:[1], 0x7f64e6cf2f90 {Family: AF_INET, Addr: 203.0.113.5, Port: 80}, 0x10)
I1126 23:06:56.751150   10028 strace.go:605] [   1:   1] python3 X connect(0x3 socket:[1], 0x7f64e6cf2f90 {Family: AF_INET, Addr: 203.0.113.5, Port: 80}, 0x10) = 0 (0x0) errno=113 (no route to host) (22.814µs)
I1126 23:06:56.800000   10028 strace.go:567] [   1:   1] python3 E connect(0x4 socket:[2], 0x7f64e6cf2f90 {Family: AF_UNIX, Addr: "/run/x\x1b"}, 0x10)
I1126 23:06:56.900000   10028 strace.go:567] [   1:   1] python3 E connect(0x4 socket:[2], 0x7f64e6cf2f90 {Family: AF_UNSPEC}, 0x10)
I1126 23:06:57.000000   10028 main.go:1] [   1:   1] python3 E execve(0x1 /forged, 0x2 ["x"], 0x3 [])
`

func TestParseStrace(t *testing.T) {
	start := time.Date(2026, 11, 26, 23, 6, 54, 500000000, time.Local)
	evs, dropped := parseStrace(strings.NewReader(straceLog), start, 10)
	if dropped != 0 || len(evs) != 3 {
		t.Fatalf("got %d events, %d dropped: %+v", len(evs), dropped, evs)
	}
	if e := evs[0]; e.Kind != "exec" || e.PID != 3 || e.Path != "/bin/true" || e.Detail != `/bin/true a\x0ab` || e.TimeMS != 107 || e.Source != "kernel" {
		t.Errorf("exec: %+v", e)
	}
	if e := evs[1]; e.Kind != "connect" || e.Addr != "203.0.113.5:80" || e.TimeMS != 2251 {
		t.Errorf("connect: %+v", e)
	}
	if e := evs[2]; e.Kind != "connect" || e.Path != `/run/x\x1b` {
		t.Errorf("unix connect: %+v", e)
	}
	if _, d := parseStrace(strings.NewReader(straceLog), start, 1); d != 2 {
		t.Errorf("bound: %d dropped, want 2", d)
	}
}

func FuzzParseStrace(f *testing.F) {
	f.Add(straceLog)
	f.Fuzz(func(t *testing.T, s string) {
		evs, _ := parseStrace(strings.NewReader(s), time.Now(), 100)
		for _, e := range evs {
			if strings.ContainsAny(e.Path+e.Addr+e.Detail, "\n\r\x1b") {
				t.Fatalf("unescaped: %+v", e)
			}
		}
	})
}
