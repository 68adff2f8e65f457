package nsinit

import "github.com/moat-sandbox/moat/internal/sandbox/survivors"

// listOutlived lists the processes of the namespace, other than the init
// and zombies, still running once the program (pid main, reaped) has
// ended, after a short grace for those on their way out. The program
// was started in a session of its own (sid main): a survivor in another
// session called setsid, as a daemon does.
func listOutlived(main int) []survivors.Process { return survivors.Wait(main, []int{main}, nil) }

// listAtStop lists the daemons running when the parent stops the run
// while the program (pid main) still runs: those of another session.
func listAtStop(main int) []survivors.Process { return survivors.AtStop(main, []int{main}, nil) }

// outlived records what survived the program as moat's own events.
func (r *reporter) outlived(ps []survivors.Process) {
	for _, e := range survivors.Events(ps, r.now()) {
		r.addKernel(e)
	}
}
