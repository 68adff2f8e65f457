package osthread

import (
	"os/exec"
	"runtime"
	"sync"
)

// Start starts cmd from a thread that never ends, and returns what
// cmd.Start returns. Every process moat starts with a parent-death signal
// (SysProcAttr.Pdeathsig) must be started here.
//
// Why: Linux sends a child's parent-death signal when the thread that
// forked it ends, not its process. A Go thread ends when a goroutine
// locked to it returns without unlocking, as every function given to [Go]
// does, and the runtime chooses that thread among its own, so it may be
// the one an earlier cmd.Start forked from. Its end would kill that
// process (a run's sandbox init and its whole namespace, the zygote with
// every child, a QEMU, runsc) in the middle of a run that has nothing to
// do with the thread's work: one run's sinkhole ending would kill
// another's sandbox. The spawner is one goroutine locked to its thread
// for the life of moat; no other goroutine ever runs there and it never
// returns, so its children's signal comes only when moat ends. Starts
// are serialized through it (a fork and exec each).
func Start(cmd *exec.Cmd) error { return Do(cmd.Start) }

// Do runs f on Start's thread, which never ends, and returns its error:
// for a start that is not an exec.Cmd's own. f must be short (a fork
// and exec): every start waits for it.
func Do(f func() error) error {
	spawnOnce.Do(func() { go spawner() })
	errc := make(chan error, 1)
	spawns <- func() { errc <- f() }
	return <-errc
}

var (
	spawnOnce sync.Once
	spawns    = make(chan func())
)

func spawner() {
	runtime.LockOSThread() // never unlocked: see Start
	for f := range spawns {
		f()
	}
}
