package osthread

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Go runs f in a new goroutine locked to a thread that is not the
// process's main thread, and never unlocks it: when f returns, the thread
// ends with it, whatever f changed of it.
//
// Why not the main thread: a goroutine locked to it that exits does not
// end it; the runtime parks it for good, in whatever state f left it, and
// /proc/self names the main thread, so moat's own namespaces as /proc/self
// shows them would be the changed ones.
func Go(f func()) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// While this goroutine holds the main thread, a new one
			// runs on another thread; it is locked there before the
			// main thread is let go.
			locked := make(chan struct{})
			Go(func() { close(locked); f() })
			<-locked
			runtime.UnlockOSThread()
			return
		}
		f()
	}()
}
