package report

import (
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestFDPath: the names of an open descriptor, and nothing else.
func TestFDPath(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"/proc/self/fd/3": true, "/proc/thread-self/fd/12": true, "/dev/fd/4": true, "/proc/42/fd/5": true,
		"/proc/self/fd/": false, "/proc/self/fd/x": false, "/proc/self/exe": false, "/usr/bin/3": false,
		"/proc/4a/fd/3": false, "/tmp/fd/3": false, "/proc//fd/3": false,
	} {
		if got := fdPath(p); got != want {
			t.Errorf("fdPath(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestHookOnlyPython: without a kernel witness, a written file the hook
// saw run is Python under the hook when a hello of it follows (its
// child's, with that path as executable or argv[0]); else, and wherever
// the kernel is a witness, a file the run wrote.
func TestHookOnlyPython(t *testing.T) {
	t.Parallel()
	none := moat.Event{Source: moat.SourceMoat, Kind: moat.KindKernelEventsUnavailable}
	exec := moat.Event{TimeMS: 10, Source: moat.SourceAudit, Kind: moat.KindExec, PID: 5, Path: "/work/v/bin/tool"}
	made := moat.Event{Source: moat.SourceFS, Kind: moat.KindFileCreated, Path: "/work/v/bin/tool"}
	hello := func(pid, ppid int, exe, argv string) moat.Event {
		return moat.Event{TimeMS: 30, Source: moat.SourceAudit, Kind: moat.KindHello, PID: pid, PPID: ppid, Path: exe, Detail: argv}
	}
	for _, c := range []struct {
		name string
		evs  []moat.Event
		high bool
	}{
		{"console script", []moat.Event{none, made, exec, hello(6, 5, "/work/v/bin/python", "/work/v/bin/tool -x")}, false},
		{"venv python", []moat.Event{none, made, {TimeMS: 10, Source: moat.SourceAudit, Kind: moat.KindExec, PID: 5, Path: "/work/v/bin/python"},
			{Source: moat.SourceFS, Kind: moat.KindFileCreated, Path: "/work/v/bin/python"}, hello(6, 5, "/work/v/bin/python", "-c")}, false},
		{"os.exec", []moat.Event{none, made, exec, hello(5, 1, "/work/v/bin/python", "/work/v/bin/tool")}, false},
		{"no hello", []moat.Event{none, made, exec}, true},
		{"another process's hello", []moat.Event{none, made, exec, hello(7, 3, "/work/v/bin/python", "/work/v/bin/tool")}, true},
		{"a hello of something else", []moat.Event{none, made, exec, hello(6, 5, "/usr/bin/python3", "x.py")}, true},
		{"its own hello before the exec", []moat.Event{none, made, exec, {TimeMS: 5, Source: moat.SourceAudit, Kind: moat.KindHello, PID: 5, Path: "/work/v/bin/tool"}}, true},
		{"a kernel witness", []moat.Event{made, exec, hello(6, 5, "/work/v/bin/python", "/work/v/bin/tool")}, true},
	} {
		got := false
		for _, f := range Analyze(c.evs) {
			got = got || (f.Category == moat.CategoryExecution && f.Severity == moat.SeverityHigh)
		}
		if got != c.high {
			t.Errorf("%s: high %v, want %v", c.name, got, c.high)
		}
	}
}

// TestPythonScript: a script the run wrote is Python under the hook only
// when the "#!" line read with its hash names the runtime's interpreter
// where the program cannot change it; else it is a dropped program run.
func TestPythonScript(t *testing.T) {
	t.Parallel()
	interp := moat.Event{Source: moat.SourceMoat, Kind: moat.KindInterpreter, Path: "/usr/bin/python3.11", SHA256: strings.Repeat("a", 64)}
	for script, high := range map[string]bool{
		"#!/usr/bin/python3.11":                 false,
		"#!/usr/bin/python3 -S":                 false,
		"#! /usr/bin/env python3":               false,
		"#!/usr/bin/env -S python3 -X dev":      true, // env's own flags: not read
		"#!/usr/bin/../../tmp/python3":          true,
		"#!/proc/self/root/usr/bin/python3.11":  true,
		"#!/work/.venv/bin/python":              true,
		"#!/bin/sh":                             true,
		"":                                      true,
		"#!/usr/bin/python3.11-config-not-here": true,
		"#!/usr/bin/python3.":                   true,
		"#!/usr/bin/env pytest":                 true,
		"#!/usr/bin/env python":                 false,
	} {
		evs := []moat.Event{interp,
			{Source: moat.SourceFS, Kind: moat.KindFileCreated, Path: "/tmp/t/helper"},
			{Source: moat.SourceKernel, Kind: moat.KindExec, PID: 7, Path: "/tmp/t/helper", SHA256: strings.Repeat("b", 64), Script: script}}
		got := false
		for _, f := range Analyze(evs) {
			got = got || (f.Category == moat.CategoryExecution && f.Severity == moat.SeverityHigh)
		}
		if got != high {
			t.Errorf("%q: high %v, want %v", script, got, high)
		}
	}
	// What ran the script, by the hash of the file its "#!" named: the
	// interpreter's (a venv's python the run made) is Python under the
	// hook; anything else (a dropped binary named python) is not.
	for sum, high := range map[string]bool{strings.Repeat("a", 64): false, strings.Repeat("d", 64): true, "": true} {
		evs := []moat.Event{interp,
			{Source: moat.SourceFS, Kind: moat.KindFileCreated, Path: "/work/v/bin/python"},
			{Source: moat.SourceFS, Kind: moat.KindFileCreated, Path: "/work/v/bin/tool"},
			{Source: moat.SourceKernel, Kind: moat.KindExec, PID: 7, Path: "/work/v/bin/tool", SHA256: strings.Repeat("b", 64), Script: "#!/work/v/bin/python", ScriptSHA256: sum},
			{TimeMS: 3, Source: moat.SourceAudit, Kind: moat.KindHello, PID: 7}}
		got := false
		for _, f := range Analyze(evs) {
			got = got || (f.Category == moat.CategoryExecution && f.Severity == moat.SeverityHigh)
		}
		if got != high {
			t.Errorf("interpreter hash %q: high %v, want %v", sum, got, high)
		}
	}
}

// TestShellStartsConsoleScript: a shell's exec of a console script (pip3,
// whose "#!" names the runtime's interpreter) starts the Python whose hello
// follows; that exec is the shell's, not a hooked process's call the hook
// missed. A hooked process's own exec (its hello before) still is one.
func TestShellStartsConsoleScript(t *testing.T) {
	t.Parallel()
	interp := moat.Event{Source: moat.SourceMoat, Kind: moat.KindInterpreter, Path: "/usr/bin/python3.11", SHA256: strings.Repeat("a", 64)}
	sh := moat.Event{TimeMS: 10, Source: moat.SourceKernel, Kind: moat.KindExec, PID: 16, PPID: 12, Path: "/bin/sh", Detail: "sh -c pip3 install x >/dev/null", SHA256: strings.Repeat("c", 64)}
	script := func(line string) moat.Event {
		return moat.Event{TimeMS: 20, Source: moat.SourceKernel, Kind: moat.KindExec, PID: 17, PPID: 16, Path: "/usr/bin/pip3", Detail: "pip3 install x", SHA256: strings.Repeat("b", 64), Script: line}
	}
	hello := func(ms int64) moat.Event {
		return moat.Event{TimeMS: ms, Source: moat.SourceAudit, Kind: moat.KindHello, PID: 17, PPID: 16, Path: "/usr/bin/python3.11", Detail: "/usr/bin/pip3 install x"}
	}
	parent := moat.Event{TimeMS: 1, Source: moat.SourceAudit, Kind: moat.KindHello, PID: 12, Path: "/usr/bin/python3.11"}
	shByHook := moat.Event{TimeMS: 9, Source: moat.SourceAudit, Kind: moat.KindExec, PID: 12, Path: "/bin/sh", Detail: "sh -c pip3 install x >/dev/null"}
	for _, c := range []struct {
		name string
		evs  []moat.Event
		want bool
	}{
		{"shell starts pip3", []moat.Event{interp, parent, shByHook, sh, script("#!/usr/bin/python3.11"), hello(60)}, false},
		{"its hello within the slack before", []moat.Event{interp, parent, shByHook, sh, script("#!/usr/bin/python3.11"), hello(19)}, true},
		{"a shell script", []moat.Event{interp, parent, shByHook, sh, script("#!/bin/sh"), hello(60)}, true},
		// no "#!" read (gVisor --image): the hello's argv[0] is the script
		{"unread, argv[0]", []moat.Event{interp, parent, shByHook, sh, script(""), hello(60)}, false},
		{"unread, another argv[0]", []moat.Event{interp, parent, shByHook, sh, script(""), {TimeMS: 60, Source: moat.SourceAudit, Kind: moat.KindHello, PID: 17, Path: "/usr/bin/python3.11", Detail: "/usr/bin/pip3x install"}}, true},
	} {
		got := false
		for _, f := range Analyze(c.evs) {
			got = got || f.Category == moat.CategoryEvasion && strings.Contains(f.Summary, "did not report")
		}
		if got != c.want {
			t.Errorf("%s: hook-missed finding %v, want %v", c.name, got, c.want)
		}
	}
}
