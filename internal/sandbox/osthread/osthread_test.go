//go:build linux

package osthread

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestNeverMain: f never runs on the main thread, where the scheduler
// puts many a new goroutine while the test's main goroutine waits.
func TestNeverMain(t *testing.T) {
	for i := 0; i < 2000; i++ {
		tid := make(chan int, 1)
		Go(func() { tid <- unix.Gettid() })
		if <-tid == unix.Getpid() {
			t.Fatal("f ran on the main thread")
		}
	}
}
