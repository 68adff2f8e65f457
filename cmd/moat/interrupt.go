package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// interruptSignals cancel a run, which then ends as canceled (exit 130)
// with its sandbox torn down. SIGPIPE is among them: a reader of moat's
// output that goes away (`moat run ... | head`) would otherwise kill moat
// outright and leave the sandbox (a container, a cgroup) behind.
var interruptSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE}

// interruptContext is signal.NotifyContext for interruptSignals, but a
// SIGPIPE cancels only when one of outputs (moat's stdout and stderr) has
// lost its reader. Once SIGPIPE is asked for, a write to any closed
// connection raises it, and moat's own connections close under it in the
// normal course (the Kubernetes API server ends an attach stream): that
// write's EPIPE is the connection's error, not an interrupt.
func interruptContext(parent context.Context, outputs ...*os.File) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, interruptSignals...)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-ch:
				if s == syscall.SIGPIPE && !readerGone(outputs) {
					continue
				}
				cancel()
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel()
	}
}

// readerGone says whether any of files is a pipe or socket whose other
// end is closed (poll reports an error or a hang-up on it).
func readerGone(files []*os.File) bool {
	fds := make([]unix.PollFd, 0, len(files))
	for _, f := range files {
		fds = append(fds, unix.PollFd{Fd: int32(f.Fd()), Events: unix.POLLOUT})
	}
	if _, err := unix.Poll(fds, 0); err != nil {
		return true // cannot tell: an interrupt, as before
	}
	for _, p := range fds {
		if p.Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			return true
		}
	}
	return false
}
