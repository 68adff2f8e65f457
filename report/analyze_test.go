package report

import (
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestFDPath: the names of an open descriptor, and nothing else.
func TestFDPath(t *testing.T) {
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

// TestPythonScript: a script the run wrote is Python under the hook only
// when the "#!" line read with its hash names the runtime's interpreter
// where the program cannot change it; else it is a dropped program run.
func TestPythonScript(t *testing.T) {
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
