package native

import (
	"os"
	"runtime"

	"github.com/moat-sandbox/moat/internal/sandbox/nsinit"
)

// Init runs the sandbox init of a run with a network (modes sinkhole and
// allow) when this process was started as one, and then exits; otherwise
// it returns at once. Every binary that uses the native backend calls it
// first thing in main (and in TestMain), the way runc's init re-executes
// its own binary. An init without a network never gets this far: it runs
// from package nsinit's init function, before the packages it does not
// need are initialized.
func Init() {
	if !nsinit.Started(nsinit.ArgNet) {
		return
	}
	// Namespaces joined later (cgroup), the capability bounding set,
	// securebits, no_new_privs, Landlock and seccomp are per thread:
	// everything from here to starting the program happens on this one
	// thread, and the program is forked from it.
	runtime.LockOSThread()
	os.Exit(nsinit.Main(startInitNet))
}
