package report

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/moat-sandbox/moat"
)

// hookIntegrity: findings about the audit hook itself. The hook cannot
// stop Python code from reaching its state (the garbage collector lists
// every object), so moat checks it from outside and lets it report what
// it sees done to it:
//
//   - a Python interpreter the kernel saw start (exec; or a script whose
//     "#!" named a file with the interpreter's hash) that never said
//     hello: it ran without the hook, because it was started with a
//     standard library of its own (PYTHONHOME), with -S where the runtime's
//     encodings package carries no loader of the hook, with -I or -E where
//     the hook is on PYTHONPATH, or with moat's directory taken off it
//     (medium);
//     keyed on the process id, which the kernel events give per process
//     (tgid), as the hook does; low instead when the program signalled
//     that process (os.kill, os.killpg naming its pid) after its exec and
//     the kernel saw nothing else of it: a test that starts an interpreter
//     and stops it at once (Popen.terminate, a timeout) kills it before
//     its site.py runs the hook. The signal is the program's word, as the
//     hello is (a forged hello clears the finding; a forged signal only
//     lowers it), and the excused process did nothing the kernel saw:
//     no exec, no connect;
//   - "tamper" events of the hook: code running inside the hook walked its
//     frames (medium); the interpreter's object lists were read or another
//     audit hook added (low: debuggers and leak checks do it too). (pip
//     replaces functions' __code__: not a tell.)
//
// The tamper events are the program's own claims; the missing hello rests
// on the kernel's exec event.
func (a *analysis) hookIntegrity() {
	var silent, stopped []moat.Event
	var pids, stoppedPIDs []string
	for i, e := range a.evs {
		if e.Source != moat.SourceKernel || e.Kind != moat.KindExec || !isInterpreter(path.Base(e.Path)) && !a.runtimeSum(e.ScriptSHA256) || e.PID == 0 {
			continue
		}
		if a.pathMiss(i, map[string]bool{}) || a.saidHello(i) {
			continue
		}
		if sig, ok := a.stoppedAtStart(i); ok {
			stopped = append(stopped, e, sig)
			stoppedPIDs = append(stoppedPIDs, fmt.Sprint(e.PID))
			continue
		}
		silent = append(silent, e)
		pids = append(pids, fmt.Sprint(e.PID))
	}
	if len(silent) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityMedium, fmt.Sprintf("%d Python process(es) ran without moat's audit hook (started with a standard library of its own, -S, -I or -E where the hook could not follow, or with PYTHONPATH changed): pid %s",
			len(silent), joinBounded(uniq(pids), 8)), silent)
	}
	if len(stopped) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityLow, fmt.Sprintf("%d Python process(es) signalled by the program before moat's audit hook started in them, with nothing else seen of them: pid %s",
			len(stoppedPIDs), joinBounded(uniq(stoppedPIDs), 8)), stopped)
	}
	var inside, listing []moat.Event
	var what []string
	for _, e := range a.evs {
		if e.Source != moat.SourceAudit || e.Kind != moat.KindTamper {
			continue
		}
		what = append(what, e.Detail)
		if strings.HasPrefix(e.Name, "gc.") || e.Name == "sys.addaudithook" {
			listing = append(listing, e)
		} else {
			inside = append(inside, e)
		}
	}
	switch {
	case len(inside) > 0:
		a.add(moat.CategoryEvasion, moat.SeverityMedium, "tampered with the Python audit hook: "+joinBounded(uniq(what), 4), append(inside, listing...))
	case len(listing) > 0:
		a.add(moat.CategoryEvasion, moat.SeverityLow, "reached for the Python audit hook's objects: "+joinBounded(uniq(what), 4), listing)
	}
	a.unreadableTrace()
}

// unreadableTrace: a message of the kernel's own trace (gVisor's Sentry
// log) that moat could not read. The program controls parts of it (task
// names, paths: a raw newline breaks a line), so an unreadable message
// is what hiding a call from the trace looks like: medium, evasion.
func (a *analysis) unreadableTrace() {
	var bad []moat.Event
	for _, e := range a.evs {
		if e.Source == moat.SourceKernel && e.Kind == moat.KindTrace && e.Name == "unreadable" {
			bad = append(bad, e)
		}
	}
	if len(bad) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityMedium, fmt.Sprintf("%d message(s) of the kernel's trace could not be read (a newline in a task name or executed path can hide a call from it)", len(bad)), bad)
	}
}

// isInterpreter: the name of a Python interpreter binary (python,
// python3, python3.11, pythonw), not a tool that runs one (pytest, pip).
func isInterpreter(base string) bool {
	rest, ok := strings.CutPrefix(base, "python")
	if !ok {
		return false
	}
	rest = strings.TrimSuffix(rest, "w")
	return strings.Trim(rest, "0123456789.") == ""
}

// saidHello: the process of the kernel exec event i said hello after it
// (the hook runs before the program's first line), before its next exec.
// Events are in time order; the hook's hello can be a little earlier
// than the kernel's record of the exec (two clocks, two channels), so a
// hello from the same process up to slackMS before counts, unless it
// belongs to an earlier exec of it: one after it, or at the same
// millisecond where that earlier image was no Python (env or a shell
// that ran the interpreter at once cannot have said it).
func (a *analysis) saidHello(i int) bool {
	k := a.evs[i]
	prev, prevPython := int64(-1<<62), false
	for _, e := range a.evs[:i] {
		if e.Source == moat.SourceKernel && e.Kind == moat.KindExec && e.PID == k.PID {
			prev = e.TimeMS
			prevPython = isInterpreter(path.Base(e.Path)) || a.interpreter(e) || a.runtimeSum(e.ScriptSHA256)
		}
	}
	for j, e := range a.evs {
		if e.PID != k.PID {
			continue
		}
		if j > i && e.Source == moat.SourceKernel && e.Kind == moat.KindExec && !ranAfter(e) {
			return false // the next image
		}
		if e.Source == moat.SourceAudit && e.Kind == moat.KindHello && e.TimeMS >= k.TimeMS-slackMS && (e.TimeMS > prev || e.TimeMS == prev && !prevPython) {
			return true
		}
	}
	return false
}

// stoppedAtStart: the process of the kernel exec event i, which never
// said hello, was signalled by another process of the program after that
// exec (an audited os.kill or os.killpg naming its pid), and the kernel
// saw nothing more of it (no exec, connect or other event of its pid)
// before that signal or after: it was stopped before its hook started.
// It returns the signal event.
func (a *analysis) stoppedAtStart(i int) (moat.Event, bool) {
	k := a.evs[i]
	target := fmt.Sprint(k.PID)
	var sig moat.Event
	found := false
	for j, e := range a.evs {
		if j == i || e.PID != k.PID && !(e.Source == moat.SourceAudit && e.Kind == moat.KindSignal && e.Name == target) {
			continue
		}
		if e.Source == moat.SourceKernel && j > i {
			return moat.Event{}, false // it did something the kernel saw, or became another program
		}
		if !found && e.Source == moat.SourceAudit && e.Kind == moat.KindSignal && e.PID != k.PID && e.TimeMS >= k.TimeMS-slackMS {
			sig, found = e, true
		}
	}
	return sig, found
}

// hookOnly: the run had no kernel-side witness (moat said so: a
// kernel-events-unavailable event); what the hook says is all there is.
func (a *analysis) hookOnly() bool {
	return slices.ContainsFunc(a.evs, func(e moat.Event) bool {
		return e.Source == moat.SourceMoat && e.Kind == moat.KindKernelEventsUnavailable
	})
}

// ranPython: the hook's exec event e started a Python process under the
// hook: a hello, from e's process (an os.exec) or a child of it, whose
// executable or script (argv[0]) is the path e ran: a venv's python, a
// console script or a helper script run by its path. The hook's word
// only: for runs without a kernel witness (hookOnly), where a program
// that forges it could as well have left the exec out.
func (a *analysis) ranPython(e moat.Event) bool {
	for _, h := range a.evs {
		child := h.PPID == e.PID && h.TimeMS >= e.TimeMS-slackMS
		if h.Source != moat.SourceAudit || h.Kind != moat.KindHello || e.PID == 0 || !child && !(h.PID == e.PID && h.TimeMS >= e.TimeMS) {
			continue
		}
		argv0, _, _ := strings.Cut(h.Detail, " ")
		if h.Path == e.Path || argv0 == e.Path {
			return true
		}
	}
	return false
}
