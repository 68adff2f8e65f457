package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestInterruptSIGPIPE: a SIGPIPE from a write to a closed connection of
// moat's own (the Kubernetes API server ends attach streams) leaves the
// run going; one from moat's output losing its reader cancels it.
func TestInterruptSIGPIPE(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, stop := interruptContext(context.Background(), w)
	defer stop()
	seen := make(chan os.Signal, 4)
	signal.Notify(seen, syscall.SIGPIPE)
	defer signal.Stop(seen)

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	unix.Close(fds[1])
	if _, err := unix.Write(fds[0], []byte("x")); err != unix.EPIPE {
		t.Fatalf("write to a closed connection: %v, want EPIPE", err)
	}
	<-seen
	select {
	case <-ctx.Done():
		t.Fatal("a SIGPIPE of a closed connection canceled the run")
	case <-time.After(500 * time.Millisecond):
	}

	r.Close()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("write to a pipe without a reader succeeded")
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("the output's reader went away and the run was not canceled")
	}
}
