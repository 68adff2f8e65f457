package report

import (
	"sort"

	"github.com/moat-sandbox/moat"
)

// Launched marks as moat's the execs of its launcher (moat.Spec.Launcher:
// `moat test`'s, which changes directory and execs the phase's program):
// the first process the kernel saw exec, up to and including its first
// exec that succeeded (an execvp's misses along PATH before it). That
// process runs moat's own code until then, so nothing of the program's
// can come first. Native marks them as they are seen; the backends whose
// init starts the program (the containers' init, gVisor's, the
// micro-VM's agent) drop the init's own start, and the launcher's exec
// that follows was the program's "ran shell commands" before (session 21,
// the real suites' seventh round). evs is changed in place.
func Launched(evs []moat.Event) {
	idx := make([]int, 0, 8)
	for i, e := range evs {
		if e.Source == moat.SourceKernel && (e.Kind == moat.KindExec || e.Kind == moat.KindExecFailed) && !ranAfter(e) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return evs[idx[a]].TimeMS < evs[idx[b]].TimeMS })
	if len(idx) == 0 {
		return
	}
	pid := evs[idx[0]].PID
	for _, i := range idx {
		if evs[i].PID != pid {
			continue
		}
		ok := evs[i].Kind == moat.KindExec
		evs[i].Source, evs[i].Detail = moat.SourceMoat, "moat's launcher: "+evs[i].Detail
		if ok {
			return
		}
	}
}
