// Package pid1 holds what an init written in Go needs to stay alive as
// pid 1 of a namespace that untrusted programs of its own uid share.
//
// The kernel drops a signal sent to a namespace's init from inside it when
// the init's handler is SIG_DFL. But a signal that the init's signalled
// thread has blocked at that moment is never dropped at sending ("blocked
// signals are never ignored": the handler may change before it is
// unblocked), and kernels before 6.x's rework (Debian bookworm's 6.1 among
// them) then hand it to another thread of the init and, its action being
// the default, kill the whole init with it. Go's runtime blocks every
// signal on a thread while it forks, starts a thread or runs a signal
// handler, and leaves signals 32 and 34 (glibc's SIGCANCEL and SIGRTMIN,
// which the runtime neither uses nor notifies) at SIG_DFL, even under
// signal.Notify of every signal. A program that sent 34 to pid 1 right
// after a signal the runtime handles killed the init on 6.1 (the README's
// old open finding; TestBlockedSignal reproduces it on such a kernel).
package pid1
