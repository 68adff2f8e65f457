// Package osthread runs a function on an operating-system thread of its
// own, for code that changes what the kernel keeps per thread (a network
// namespace, say) and must never let another goroutine run there. Linux
// only.
package osthread
