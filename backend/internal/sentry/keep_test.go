package sentry

import (
	"bytes"
	"strings"
	"testing"
	"time"
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
