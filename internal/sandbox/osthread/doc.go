// Package osthread runs a function on an operating-system thread of its
// own, for code that changes what the kernel keeps per thread (a network
// namespace, say) and must never let another goroutine run there (Go,
// Linux only); and starts processes from a thread that never ends (Start,
// every platform), so that the end of such a thread never sends a child
// its parent-death signal.
package osthread
