package report

import (
	"fmt"
	"path"
	"strings"

	"github.com/moat-sandbox/moat"
)

// hookIntegrity: findings about the audit hook itself. The hook cannot
// stop Python code from reaching its state (the garbage collector lists
// every object), so moat checks it from outside and lets it report what
// it sees done to it:
//
//   - a Python interpreter the kernel saw start (exec) that never said
//     hello: it ran without the hook, because it was started with -I, -E
//     or -S or with moat's directory taken off its PYTHONPATH (medium);
//     keyed on the process id, which the kernel events give per process
//     (tgid), as the hook does;
//   - "tamper" events of the hook: code running inside the hook walked its
//     frames (medium); the interpreter's object lists were read or another
//     audit hook added (low: debuggers and leak checks do it too). (pip
//     replaces functions' __code__: not a tell.)
//
// The tamper events are the program's own claims; the missing hello rests
// on the kernel's exec event.
func (a *analysis) hookIntegrity() {
	var silent []moat.Event
	var pids []string
	for i, e := range a.evs {
		if e.Source != moat.SourceKernel || e.Kind != moat.KindExec || !isInterpreter(path.Base(e.Path)) || e.PID == 0 {
			continue
		}
		if a.pathMiss(i, map[string]bool{}) || a.saidHello(i) {
			continue
		}
		silent = append(silent, e)
		pids = append(pids, fmt.Sprint(e.PID))
	}
	if len(silent) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityMedium, fmt.Sprintf("%d Python process(es) ran without moat's audit hook (started with -I, -E or -S, or with PYTHONPATH changed): pid %s",
			len(silent), joinBounded(uniq(pids), 8)), silent)
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
// belongs to an earlier exec of it.
func (a *analysis) saidHello(i int) bool {
	k := a.evs[i]
	prev := int64(-1 << 62)
	for _, e := range a.evs[:i] {
		if e.Source == moat.SourceKernel && e.Kind == moat.KindExec && e.PID == k.PID {
			prev = e.TimeMS
		}
	}
	for j, e := range a.evs {
		if e.PID != k.PID {
			continue
		}
		if j > i && e.Source == moat.SourceKernel && e.Kind == moat.KindExec {
			return false // the next image
		}
		if e.Source == moat.SourceAudit && e.Kind == moat.KindHello && e.TimeMS >= k.TimeMS-slackMS && e.TimeMS > prev {
			return true
		}
	}
	return false
}
