package moat

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestClassify(t *testing.T) {
	exit := func(code int) Ending { return Ending{Exited: true, ExitCode: code} }
	sig := func(n int) Ending { return Ending{Exited: true, Signal: n} }
	with := func(e Ending, f func(*Ending)) Ending { f(&e); return e }
	for _, tc := range []struct {
		name    string
		e       Ending
		status  Status
		code    int
		signal  int
		failed  bool
		errText string
	}{
		{"exit 0", exit(0), StatusExited, 0, 0, false, ""},
		{"exit 3", exit(3), StatusExited, 3, 0, false, ""},
		{"signal", sig(9), StatusSignaled, 0, 9, false, ""},
		{"timeout wins over the kill", with(sig(9), func(e *Ending) { e.Stop = StatusTimeout }), StatusTimeout, 0, 9, false, ""},
		{"timeout wins over memory", with(sig(9), func(e *Ending) { e.Stop = StatusTimeout; e.OOMKills = 1 }), StatusTimeout, 0, 9, false, ""},
		{"canceled without exit", Ending{Stop: StatusCanceled}, StatusCanceled, 0, 0, false, ""},
		{"output limit", with(sig(9), func(e *Ending) { e.Stop = StatusOutputLimit }), StatusOutputLimit, 0, 9, false, ""},
		{"error stop is no reason", with(exit(2), func(e *Ending) { e.Stop = StatusError }), StatusExited, 2, 0, false, ""},
		{"oom", with(sig(9), func(e *Ending) { e.OOMKills = 1 }), StatusMemory, 0, 9, false, ""},
		{"oom on an old kernel", with(exit(1), func(e *Ending) { e.OOMKills = -1 }), StatusMemory, 1, 0, false, ""},
		{"pids", with(exit(1), func(e *Ending) { e.PidsHits = 3 }), StatusPids, 1, 0, false, ""},
		{"memory before pids", with(exit(1), func(e *Ending) { e.PidsHits = 3; e.OOMKills = 1 }), StatusMemory, 1, 0, false, ""},
		{"not found", Ending{StartErr: "start the program: exec: no such file", StartErrno: syscall.ENOENT}, StatusError, 127, 0, false, "start the program"},
		{"not executable", Ending{StartErr: "exec: permission denied", StartErrno: syscall.EACCES}, StatusError, 126, 0, false, ""},
		{"bad format", Ending{StartErr: "exec format error", StartErrno: syscall.ENOEXEC}, StatusError, 126, 0, false, ""},
		{"start failed otherwise", Ending{StartErr: "setup: mount failed", StartErrno: syscall.EINVAL}, StatusError, 0, 0, true, "mount failed"},
		{"start error before oom", Ending{StartErr: "x", StartErrno: syscall.ENOENT, OOMKills: 1}, StatusError, 127, 0, false, ""},
		{"lost", Ending{Lost: "init died"}, StatusError, 0, 0, true, "without a report: init died"},
		{"lost, limit seen", Ending{Lost: "init died", OOMKills: 1}, StatusMemory, 0, 0, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res Result
			err := tc.e.Classify("test", &res)
			if res.Status != tc.status || res.ExitCode != tc.code || res.Signal != tc.signal {
				t.Errorf("got %s exit %d signal %d; want %s exit %d signal %d", res.Status, res.ExitCode, res.Signal, tc.status, tc.code, tc.signal)
			}
			if (err != nil) != tc.failed || (err != nil && !errors.Is(err, ErrSandbox)) {
				t.Errorf("err = %v; want failed=%v wrapping ErrSandbox", err, tc.failed)
			}
			if tc.errText != "" && !strings.Contains(res.Error, tc.errText) {
				t.Errorf("Error = %q; want it to contain %q", res.Error, tc.errText)
			}
			if res.Status == StatusError && res.Error == "" {
				t.Error("status error without an Error")
			}
		})
	}
}
