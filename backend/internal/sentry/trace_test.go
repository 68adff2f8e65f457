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

func TestParse(t *testing.T) {
	start := time.Date(2026, 11, 26, 23, 6, 54, 500000000, time.Local)
	evs, dropped := Parse(strings.NewReader(straceLog), start, 10, Options{})
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
	// past the bound, the connect out is of kbudget.Interest: kept
	if _, d := Parse(strings.NewReader(straceLog), start, 1, Options{}); d != 1 {
		t.Errorf("bound: %d dropped, want 1", d)
	}
}

// TestParseInit: with moat's init as pid 1, the trace's first exec is its
// start of the program, no event; the ones after it are.
func TestParseInit(t *testing.T) {
	start := time.Date(2026, 11, 26, 23, 6, 54, 500000000, time.Local)
	log := straceLog + `I1126 23:06:58.000000   10028 strace.go:567] [   4:   4] python3 E execve(0x7f8e74b59370 /bin/false, 0x7f8e74b59730 ["/bin/false"], 0x7f8e74b59758 [])
`
	evs, _ := Parse(strings.NewReader(log), start, 10, Options{Init: true})
	var execs []string
	for _, e := range evs {
		if e.Kind == "exec" {
			execs = append(execs, e.Path)
		}
	}
	if strings.Join(execs, " ") != "/bin/false" || len(evs) != 3 {
		t.Errorf("execs %q of %d events, want /bin/false alone (the init's start of the program is none)", execs, len(evs))
	}
}

// The process tree and refused families, as runsc 20221219 writes them: a
// thread (CLONE_THREAD, not a process) whose posix_spawn vforks a shell,
// which forks an exec; sockets of families the Sentry lacks.
const straceTree = `I1204 19:43:10.100000   15455 strace.go:611] [   1:   1] python3.11 X clone(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, 0x7f4d75dfff70, 0x7f4d75e00990, 0x7f4d75e00990, 0x7f4d75e00640) = 2 (0x2) (1.2ms)
I1204 19:43:10.200000   15455 strace.go:567] [   3:   3] python3.11 E execve(0x7f4d765b5031 /bin/sh, 0x7f4d75dff740 ["sh", "-c", "cat /etc/shadow"], 0x7fe9100cdcc0 ["A=1"])
I1204 19:43:10.210000   15455 strace.go:611] [   1:   2] python3.11 X clone(CLONE_VM|CLONE_VFORK|0x11, 0x7f4d75e98ff0, 0x0, 0x0, 0x0) = 3 (0x3) (211.822µs)
I1204 19:43:10.300000   15455 strace.go:611] [   3:   3] sh X clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|0x11, 0x0, 0x0, 0x7f68fbe55e50, 0x0) = 4 (0x4) (36.270151ms)
I1204 19:43:10.400000   15455 strace.go:567] [   4:   4] sh E execve(0x55 /usr/bin/cat, 0x56 ["cat", "/etc/shadow"], 0x57 ["A=1"])
I1204 19:43:10.500000   15455 strace.go:611] [   1:   1] python3.11 X fork() = -1 (0xffffffffffffffff) errno=11 (resource temporarily unavailable) (3µs)
I1204 19:43:10.600000   15455 strace.go:605] [   1:   1] python3.11 X socket(AF_VSOCK, SOCK_STREAM|SOCK_CLOEXEC, 0x0) = 0 (0x0) errno=97 (address family not supported by protocol) (25.629µs)
I1204 19:43:10.700000   15455 strace.go:605] [   1:   1] python3.11 X socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0x0) = 3 (0x3) (25.629µs)
I1204 19:43:10.800000   15455 strace.go:567] [   1:   1] python3.11 E socket(AF_ALG, SOCK_SEQPACKET|SOCK_CLOEXEC, 0x0)
I1204 19:43:10.800100   15455 strace.go:605] [   1:   1] python3.11 X socket(AF_ALG, SOCK_SEQPACKET|SOCK_CLOEXEC, 0x0) = 0 (0x0) errno=97 (address family not supported by protocol) (3.146µs)
`

func TestParseTree(t *testing.T) {
	start := time.Date(2026, 12, 4, 19, 43, 10, 0, time.Local)
	evs, _ := Parse(strings.NewReader(straceTree), start, 10, Options{})
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s %d<%d<%s %s%s", e.Kind, e.PID, e.PPID, e.Ancestors, e.Name, e.Path))
	}
	want := []string{"exec 3<1< execve/bin/sh", "exec 4<3<1 execve/usr/bin/cat", "socket 1<0< AF_VSOCK", "socket 1<0< AF_ALG"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(straceLog)
	f.Fuzz(func(t *testing.T, s string) {
		evs, _ := Parse(strings.NewReader(s), time.Now(), 100, Options{Cwd: "/work"})
		for _, e := range evs {
			if strings.ContainsAny(e.Path+e.Addr+e.Detail, "\n\r\x1b") {
				t.Fatalf("unescaped: %+v", e)
			}
		}
	})
}

// Lines as runsc 20221219 writes them with chdir and fchdir traced
// (CwdSyscalls): relative chdirs, a vfork child that changes directory
// (subprocess's cwd=) and execs before its parent's clone returns, an
// fchdir, execveat of a directory descriptor and of a descriptor alone
// (AT_EMPTY_PATH), and a clone sharing its parent's directory.
const straceCwd = `I1205 17:55:12.735753    9065 strace.go:599] [   1:   1] python3 X chdir(0x7f9f9a967e60 /tmp) = 0 (0x0) (9.728µs)
I1205 17:55:12.736363    9065 strace.go:599] [   1:   1] python3 X chdir(0xa5ed80 c) = 0 (0x0) (5.07µs)
I1205 17:55:12.736450    9065 strace.go:599] [   1:   1] python3 X chdir(0xa5edb0 d) = 0 (0x0) (11.352µs)
I1205 17:55:12.736500    9065 strace.go:599] [   1:   1] python3 X chdir(0xa5edb0 nonexistent) = -1 (0xffffffffffffffff) errno=2 (no such file or directory) (11.352µs)
I1205 17:55:12.740000    9065 strace.go:567] [   1:   1] python3 E execve(0x560011c34f50 ./x, 0x560011c34f70 ["./x"], 0x560011c351d8 [])
I1205 17:55:12.750000    9065 strace.go:599] [   2:   2] python3 X chdir(0xa5edb0 sub) = 0 (0x0) (11.352µs)
I1205 17:55:12.750100    9065 strace.go:567] [   2:   2] python3 E execve(0x560011c34f50 ../bin/y, 0x560011c34f70 ["y"], 0x560011c351d8 [])
I1205 17:55:12.760000    9065 strace.go:611] [   1:   1] python3 X clone(CLONE_VM|CLONE_VFORK|0x11, 0x7f4d75e98ff0, 0x0, 0x0, 0x0) = 2 (0x2) (211.822µs)
I1205 17:55:12.770000    9065 strace.go:599] [   1:   1] python3 X fchdir(0x3 /tmp/a/b) = 0 (0x0) (2.895µs)
I1205 17:55:12.780000    9065 strace.go:567] [   1:   1] python3 E execve(0x7f832f9f19d0 z, 0x7f832f9a46f0 ["z"], 0x7f832f9a4700 [])
I1205 17:55:12.818638    9065 strace.go:573] [   1:   1] python3 E execveat(0x3 /tmp/c/d, 0xa5f170 at, 0x7f9f9aa8f340 ["x"], 0x7f9f9aa8f3d0 [], 0x0)
I1205 17:55:12.892919    9065 strace.go:573] [   1:   1] python3 E execveat(0x5 /tmp/c/d/x, 0x7f9f9ad1fdd5 , 0x7f9f9aab4620 ["x"], 0x7f9f9aab4650 [], 0x1000)
I1205 17:55:13.125221    9065 strace.go:573] [   1:   1] python3 E execveat(0x3 /memfd:pay (deleted), 0x7f9f9ad1fdd5 , 0x7f9f9aab4620 ["m"], 0x7f9f9aab4650 [], 0x1000)
I1205 17:55:13.200000    9065 strace.go:611] [   1:   1] python3 X clone(CLONE_VM|CLONE_FS|CLONE_FILES|0x11, 0x0, 0x0, 0x0, 0x0) = 7 (0x7) (1.2ms)
I1205 17:55:13.300000    9065 strace.go:599] [   7:   7] python3 X chdir(0xa5edb0 /etc) = 0 (0x0) (11.352µs)
I1205 17:55:13.400000    9065 strace.go:567] [   1:   1] python3 E execve(0x7f832f9f19d0 w, 0x7f832f9a46f0 ["w"], 0x7f832f9a4700 [])
I1205 17:55:13.500000    9065 strace.go:599] [   1:   1] python3 X fchdir(0x3 /memfd:gone (deleted)) = 0 (0x0) (2.895µs)
I1205 17:55:13.600000    9065 strace.go:567] [   1:   1] python3 E execve(0x7f832f9f19d0 v, 0x7f832f9a46f0 ["v"], 0x7f832f9a4700 [])
`

// TestParseCwd: every exec of the trace is named whole from where the
// caller was, and hashed by that whole name; a directory moat cannot
// know makes the name unnamed, never a guess.
func TestParseCwd(t *testing.T) {
	start := time.Date(2026, 12, 5, 17, 55, 12, 0, time.Local)
	var hashed []string
	evs, dropped := Parse(strings.NewReader(straceCwd), start, 100, Options{Cwd: "/work", Hash: func(p string, _ int64) Hashed {
		hashed = append(hashed, p)
		return Hashed{SHA256: "h:" + p}
	}})
	want := []string{"/tmp/c/d/x", "/tmp/c/d/bin/y", "/tmp/a/b/z", "/tmp/c/d/at", "/proc/self/fd/5", "/proc/self/fd/3", "/etc/w", "<cwd not named>/v"}
	if dropped != 0 || len(evs) != len(want) {
		t.Fatalf("%d events, %d dropped: %+v", len(evs), dropped, evs)
	}
	for i, w := range want {
		if evs[i].Kind != "exec" || evs[i].Path != w {
			t.Errorf("exec %d: %q, want %q", i, evs[i].Path, w)
		}
		if strings.HasPrefix(w, "/") && evs[i].SHA256 != "h:"+w {
			t.Errorf("exec %d: hash %q, want of %q", i, evs[i].SHA256, w)
		}
	}
	if !strings.Contains(evs[5].Detail, "AT_EMPTY_PATH: /memfd:pay (deleted)") {
		t.Errorf("fexecve of a memfd: detail %q names no memfd", evs[5].Detail)
	}
	// Without Cwd (Docker's runsc, no chdir traced) a relative name
	// stays as given; execveat's directory is still the Sentry's.
	evs, _ = Parse(strings.NewReader(straceCwd), start, 100, Options{})
	if evs[0].Path != "./x" || evs[3].Path != "/tmp/c/d/at" {
		t.Errorf("without Cwd: %q %q", evs[0].Path, evs[3].Path)
	}
}

// Lines as runsc 20221219 writes them (trimmed environments) for
// exec_flood.py: a thread's failing execs, each an entry and an exit
// with its errno, then the payload's exec that ran and its connect.
const (
	floodEntry  = `I1206 08:25:57.070802    4551 strace.go:567] [   1:  42] python3 E execve(0x7f326a757aa0 /nonexistent/x%d, 0x7f326aba4760 ["x"], 0x7f63707c65a0 ["LANG=C.UTF-8"])` + "\n"
	floodExit   = `I1206 08:25:57.071341    4551 strace.go:605] [   1:  42] python3 X execve(0x7f326a757aa0 /nonexistent/x%d, 0x7f326aba4760 ["x"], 0x7f63707c65a0 ["LANG=C.UTF-8"]) = 0 (0x0) errno=2 (no such file or directory) (418.823µs)` + "\n"
	payloadExec = `I1206 08:25:57.110699    4551 strace.go:567] [  43:  43] python3 E execve(0x7f326aba4770 /bin/sh, 0x7f326ab3b850 ["/bin/sh", "-c", "cat /etc/shadow"], 0x7f63707c65a0 ["LANG=C.UTF-8"])` + "\n"
	payloadRan  = `I1206 08:25:57.116832    4551 strace.go:605] [  43:  43] python3 X execve(0x7f326aba4770 /bin/sh, 0x7f326ab3b850 ["/bin/sh", "-c", "cat /etc/shadow"], 0x7f63707c65a0 ["LANG=C.UTF-8"]) = 0 (0x0) (6.070012ms)` + "\n"
	payloadConn = `I1206 08:25:57.200000    4551 strace.go:567] [   1:   1] python3 E connect(0x3 socket:[1], 0x7f64e6cf2f90 {Family: AF_INET, Addr: 203.0.113.7, Port: 443}, 0x10)` + "\n"
)

// TestParseFailedExecs: an exec whose exit returned an errno is of kind
// exec-failed, in its own reserve: a thread's flood of them hides
// neither the exec that ran after it nor the connect, and the drops are
// counted by kind in a "kernel" event (the report's evasion finding).
// A forged exit (a path's raw newline can write one) cannot make the
// payload's exec a failed one: its real exit is then one of no entry,
// which ran.
func TestParseFailedExecs(t *testing.T) {
	var log strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&log, floodEntry, i)
		fmt.Fprintf(&log, floodExit, i)
	}
	log.WriteString(payloadExec + payloadRan + payloadConn)
	start := time.Date(2026, 12, 6, 8, 25, 57, 0, time.Local)
	evs, dropped := Parse(strings.NewReader(log.String()), start, 1000, Options{})
	kinds := map[string]int{}
	var shell, drops bool
	for _, e := range evs {
		kinds[string(e.Kind)]++
		shell = shell || (e.Kind == "exec" && e.Path == "/bin/sh" && e.Detail == "/bin/sh -c cat /etc/shadow" && e.PID == 43)
		drops = drops || (e.Source == "moat" && e.Kind == "events" && e.Name == "kernel" && strings.Contains(e.Detail, "exec-failed 2950"))
	}
	if !shell || kinds["connect"] != 1 || kinds["exec"] != 1 || kinds["exec-failed"] != 50 || dropped != 2950 || !drops {
		t.Errorf("kept %v, payload exec %v, drop event %v, %d dropped: %+v", kinds, shell, drops, dropped, evs[len(evs)-1])
	}

	// A forged exit with an errno, taken first, then the real one.
	forged := strings.Replace(strings.Replace(payloadRan, ") = 0 (0x0) (", ") = 0 (0x0) errno=2 (no such file or directory) (", 1), "08:25:57.116832", "08:25:57.111111", 1)
	evs, _ = Parse(strings.NewReader(payloadExec+forged+payloadRan), start, 1000, Options{})
	if len(evs) != 2 || evs[1].Kind != "exec" || evs[1].Path != "/bin/sh" || evs[1].Detail != "/bin/sh -c cat /etc/shadow" || evs[1].PID != 43 {
		t.Errorf("forged exit: %+v", evs)
	}
	// An exit of other arguments than its entry's: both ran.
	other := strings.Replace(payloadRan, "cat /etc/shadow", "true", 1)
	evs, _ = Parse(strings.NewReader(payloadExec+other), start, 1000, Options{})
	if len(evs) != 2 || evs[0].Kind != "exec" || evs[1].Kind != "exec" || evs[1].Detail != "/bin/sh -c true" {
		t.Errorf("mismatched exit: %+v", evs)
	}
}

// TestParseRepeats: a loop of one command that runs (many short
// processes) is kept kbudget.MaxRepeats times and counted: the command after it
// is kept, and the repeats alone are named as such.
func TestParseRepeats(t *testing.T) {
	var log strings.Builder
	for range 2000 {
		log.WriteString(strings.ReplaceAll(payloadExec+payloadRan, "cat /etc/shadow", "true"))
	}
	log.WriteString(payloadExec + payloadRan)
	evs, dropped := Parse(strings.NewReader(log.String()), time.Date(2026, 12, 6, 8, 25, 57, 0, time.Local), 1000, Options{})
	var shell, repeats int
	for _, e := range evs {
		if e.Kind == "exec" && e.Detail == "/bin/sh -c cat /etc/shadow" {
			shell++
		}
		if e.Kind == "events" && e.Name == "kernel-repeats" {
			repeats++
		}
	}
	if shell != 1 || repeats != 1 || dropped != 2000-kbudget.MaxRepeats || len(evs) != kbudget.MaxRepeats+2 {
		t.Errorf("payload %d, repeats event %d, %d dropped, %d events", shell, repeats, dropped, len(evs))
	}
}

// TestParseConnectRepeats: refused connects to every port of loopback
// (connect_flood.py) are one host's, kept kbudget.MaxRepeats times and counted:
// the connect after them is kept.
func TestParseConnectRepeats(t *testing.T) {
	var log strings.Builder
	for port := range 2000 {
		fmt.Fprintf(&log, "I1206 08:25:57.200000    4551 strace.go:567] [   1:   1] python3 E connect(0x3 socket:[%d], 0x7f64e6cf2f90 {Family: AF_INET, Addr: 127.0.0.%d, Port: %d}, 0x10)\n", port, 1+port%2, port+1)
	}
	log.WriteString(payloadConn)
	evs, dropped := Parse(strings.NewReader(log.String()), time.Date(2026, 12, 6, 8, 25, 57, 0, time.Local), 1000, Options{})
	payload := false
	for _, e := range evs {
		payload = payload || (e.Kind == "connect" && e.Addr == "203.0.113.7:443")
	}
	if !payload || dropped != 2000-kbudget.MaxRepeats || len(evs) != kbudget.MaxRepeats+2 || evs[len(evs)-1].Name != "kernel-repeats" {
		t.Errorf("payload %v, %d dropped, %d events", payload, dropped, len(evs))
	}
}

// TestKeepLongExecFlood: failing execs whose argv makes each line 200
// KiB (the Sentry prints every argument) cost the bound Keep's start and
// end of each line, not the line: 1,000 of them (400 MiB of log) leave
// the payload after them in what is kept, and each is still paired with
// its exit (exec-failed, by the errno at the end).
func TestKeepLongExecFlood(t *testing.T) {
	pad := `, "` + strings.Repeat("A", 1000) + `"`
	long := strings.Repeat(pad, 100)
	r, w := io.Pipe()
	go func() {
		for i := range 400 {
			for _, l := range []string{floodEntry, floodExit} {
				fmt.Fprintf(w, strings.Replace(l, `["x"]`, `["x"`+long+`]`, 1), i)
			}
		}
		io.WriteString(w, payloadExec+payloadRan+payloadConn)
		w.Close()
	}()
	var kept bytes.Buffer
	cut := 0
	Keep(r, &kept, &cut)
	evs, _ := Parse(bytes.NewReader(kept.Bytes()), time.Date(2026, 12, 6, 8, 25, 57, 0, time.Local), 1000, Options{})
	kinds := map[string]int{}
	shell := false
	for _, e := range evs {
		kinds[string(e.Kind)]++
		shell = shell || (e.Kind == "exec" && e.Detail == "/bin/sh -c cat /etc/shadow")
		if e.Kind == "exec-failed" && (!strings.HasPrefix(e.Path, "/nonexistent/x") || !strings.HasPrefix(e.Detail, "x AAAA") || strings.ContainsRune(e.Detail, 0)) {
			t.Errorf("flood event %+v", e)
		}
	}
	if cut != 0 || !shell || kinds["connect"] != 1 || kinds["exec-failed"] != 50 || kinds["exec"] != 1 {
		t.Errorf("cut %d (kept %d MiB), payload exec %v, kept %v", cut, kept.Len()>>20, shell, kinds)
	}
}

// TestLoaderEnv: an exec's LD_PRELOAD and LD_AUDIT are read from the
// environment the Sentry logs after its argv (red team, session 18).
func TestLoaderEnv(t *testing.T) {
	for in, want := range map[string]string{
		`"/bin/true", "a\nb"], 0x7f8e74b59758 ["PATH=/bin", "LD_PRELOAD=/tmp/x.so", "LD_AUDIT=/tmp/a.so"])`: "LD_PRELOAD=/tmp/x.so\nLD_AUDIT=/tmp/a.so",
		`"/bin/true"], 0x7f8e74b59758 ["PATH=/bin"])`:                                                       "",
		`"/bin/true", "LD_PRELOAD=/tmp/argv.so"], 0x7f8e74b59758 [])`:                                       "",
		`"/bin/true"`: "",
		// Cut before the closing bracket (the reader's line bound): not
		// read to its end, not clean.
		`"/bin/true"], 0x7f8e74b59758 ["PATH=/bin", "V1=x", "V2`:                                          moat.EnvUnread,
		`"/bin/true"], 0x7f8e74b59758 ["LD_PRELOAD=/tmp/x.so", "V1=x", "V2=x", "V3`:                       moat.EnvUnread + "\nLD_PRELOAD=/tmp/x.so",
		`"/bin/true"], 0x7f8e74b59758 [` + strings.Repeat(`"V=x", `, maxEnv) + `"LD_PRELOAD=/tmp/y.so"])`: moat.EnvUnread,
	} {
		if got := loaderEnv(in); got != want {
			t.Errorf("loaderEnv(%q) = %q, want %q", in, got, want)
		}
	}
}

// portsLog is runsc 20221219's trace of a TCP socket bound to 0.0.0.0:4444
// and listening, an inet6 one listening unbound, a UDP one bound to
// 5005, a Unix one bound and listening, and a UDP one bound to port 0
// and a TCP one to loopback listening (entries dropped, as KeepWithin
// does).
const portsLog = `I1207 10:14:33.197991   16896 strace.go:605] [   1:   1] python3 X socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3 (0x3) (104.992µs)
I1207 10:14:33.198130   16896 strace.go:605] [   1:   1] python3 X bind(0x3 socket:[1], 0x7f011757cf40 {Family: AF_INET, Addr: , Port: 4444}, 0x10) = 0 (0x0) (17.207µs)
I1207 10:14:33.198185   16896 strace.go:602] [   1:   1] python3 X listen(0x3 socket:[1], 0x1) = 0 (0x0) (13.819µs)
I1207 10:14:33.198260   16896 strace.go:605] [   1:   1] python3 X socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 4 (0x4) (35.473µs)
I1207 10:14:33.198366   16896 strace.go:602] [   1:   1] python3 X listen(0x4 socket:[2], 0x1) = 0 (0x0) (7.813µs)
I1207 10:14:33.198415   16896 strace.go:605] [   1:   1] python3 X socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 5 (0x5) (8.647µs)
I1207 10:14:33.198461   16896 strace.go:605] [   1:   1] python3 X bind(0x5 socket:[3], 0x7f011757cf40 {Family: AF_INET, Addr: , Port: 5005}, 0x10) = 0 (0x0) (5.864µs)
I1207 10:14:33.198504   16896 strace.go:605] [   1:   1] python3 X socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0x0) = 6 (0x6) (6.781µs)
I1207 10:14:33.198628   16896 strace.go:605] [   1:   1] python3 X bind(0x6 socket:[4], 0x7f011757cf40 {Family: AF_UNIX, Addr: "/tmp/sock"}, 0xc) = 0 (0x0) (48.115µs)
I1207 10:14:33.198670   16896 strace.go:602] [   1:   1] python3 X listen(0x6 socket:[4], 0x1) = 0 (0x0) (1.495µs)
I1207 10:14:33.198700   16896 strace.go:605] [   1:   1] python3 X socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 7 (0x7) (8.647µs)
I1207 10:14:33.198710   16896 strace.go:605] [   1:   1] python3 X bind(0x7 socket:[5], 0x7f011757cf40 {Family: AF_INET, Addr: , Port: 0}, 0x10) = 0 (0x0) (5.864µs)
I1207 10:14:33.198720   16896 strace.go:605] [   1:   1] python3 X socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 8 (0x8) (104.992µs)
I1207 10:14:33.198730   16896 strace.go:605] [   1:   1] python3 X bind(0x8 socket:[6], 0x7f011757cf40 {Family: AF_INET, Addr: 127.0.0.1, Port: 0}, 0x10) = 0 (0x0) (17.207µs)
I1207 10:14:33.198740   16896 strace.go:602] [   1:   1] python3 X listen(0x8 socket:[6], 0x5) = 0 (0x0) (13.819µs)
I1207 10:14:33.198750   16896 strace.go:602] [   1:   1] python3 X listen(0x9 socket:[7], 0x5) = -1 (0xffffffffffffffff) errno=22 (invalid argument) (13.819µs)
`

// TestParsePorts: the ports opened, from the trace's returns of socket,
// bind and listen (ListenSyscalls), each with its address.
func TestParsePorts(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 14, 33, 0, time.Local)
	evs, _ := Parse(strings.NewReader(portsLog), start, 100, Options{})
	var got []string
	for _, e := range evs {
		if e.Kind != moat.KindListener || e.Source != moat.SourceKernel || e.PID != 1 {
			t.Errorf("event %+v", e)
			continue
		}
		got = append(got, e.Name+" "+e.Addr)
	}
	want := "listen 0.0.0.0:4444, listen , bind 0.0.0.0:5005, listen 127.0.0.1:0"
	if strings.Join(got, ", ") != want {
		t.Errorf("ports %q, want %q", strings.Join(got, ", "), want)
	}
	// KeepWithin keeps the returns, not the entries.
	var kept bytes.Buffer
	cut := 0
	b := kbudget.Budget{}
	entry := strings.Replace(strings.SplitN(portsLog, "\n", 3)[1], " X bind(", " E bind(", 1)
	KeepWithin(strings.NewReader(entry+"\n"+portsLog), &kept, &cut, &b)
	if strings.Contains(kept.String(), " E bind(") || !strings.Contains(kept.String(), " X listen(0x3") || strings.Contains(kept.String(), "AF_UNIX, Addr") {
		t.Errorf("kept:\n%s", kept.String())
	}
}

// TestParseUnspecified: the Sentry names the unspecified address with an
// empty host ("Addr: ,"); a connect there (glibc's getaddrinfo sorting
// the answers of a passive lookup, waitress's suite) is 0.0.0.0 or ::,
// this machine, as a bind there is every address. It was ":8080" before,
// an address no rule knew (session 24).
func TestParseUnspecified(t *testing.T) {
	log := `I1207 14:40:00.100000   10028 strace.go:567] [   8:   8] python3 E connect(0x5 socket:[7], 0x7f64e6cf2f90 {Family: AF_INET, Addr: , Port: 8080}, 0x10)
I1207 14:40:00.100100   10028 strace.go:567] [   8:   8] python3 E connect(0x6 socket:[8], 0x7f64e6cf2f90 {Family: AF_INET6, Addr: , Port: 8080}, 0x1c)
I1207 14:40:00.100200   10028 strace.go:567] [   8:   8] python3 E connect(0x7 socket:[9], 0x7f64e6cf2f90 {Family: AF_INET6, Addr: ::1, Port: 80}, 0x1c)
`
	start := time.Date(2026, 12, 7, 14, 40, 0, 0, time.Local)
	evs, _ := Parse(strings.NewReader(log), start, 10, Options{})
	var got []string
	for _, e := range evs {
		if e.Kind == moat.KindConnect {
			got = append(got, e.Addr)
		}
	}
	if want := []string{"0.0.0.0:8080", "[::]:8080", "[::1]:80"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("connects %q, want %q", got, want)
	}
}
