package gvisor

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat/backend/internal/sentry"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
)

// sentryLog takes the Sentry's debug log (runsc --debug --strace) through
// a FIFO as it is written and keeps only the lines the report reads: the
// syscall trace (backend/internal/sentry) and the calls the OCI profile refused ("Syscall
// N: denied by seccomp", which only --debug logs, before any trace). The
// rest (every gofer message, megabytes a run) is never stored, so the
// debug level costs no disk and no memory, and cannot push the trace past
// its bound. The Sentry waits while the FIFO is full: a program that
// floods it only slows itself.
type sentryLog struct {
	path string
	r    *os.File // moat's end
	hold *os.File // a writer of moat's own, so that no EOF comes before runsc's
	done chan struct{}
	kept bytes.Buffer
	cut  int // lines past sentry.MaxBytes
	// budget judges the trace's execs and connects as they are read
	// (sentry.KeepWithin): a flood of them is counted, not kept
	budget kbudget.Budget
	watch  sentry.Watch
	once   sync.Once
}

// openSentryLog makes the FIFO in dir and starts reading it, w told of
// each exec that ran as it is read.
func openSentryLog(dir string, w sentry.Watch) (*sentryLog, error) {
	l := &sentryLog{path: filepath.Join(dir, "sentry.log"), done: make(chan struct{}), watch: w}
	if err := syscall.Mkfifo(l.path, 0o600); err != nil {
		return nil, err
	}
	r, err := os.OpenFile(l.path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	hold, err := os.OpenFile(l.path, os.O_WRONLY, 0)
	if err != nil {
		r.Close()
		return nil, err
	}
	l.r, l.hold = r, hold
	go l.read()
	return l, nil
}

func (l *sentryLog) read() {
	defer close(l.done)
	sentry.KeepWatching(l.r, &l.kept, &l.cut, &l.budget, l.watch)
}

// finish closes moat's writer once runsc has exited and waits, at most
// drainWait, for the rest of the log; then it stops reading.
func (l *sentryLog) finish() {
	if l == nil {
		return
	}
	l.once.Do(func() {
		l.hold.Close()
		select {
		case <-l.done:
		case <-time.After(drainWait):
			_ = l.r.SetReadDeadline(time.Now()) // a writer outlived runsc
			<-l.done
		}
		l.r.Close()
	})
}

// drainWait bounds the wait for the log's end after runsc exited.
const drainWait = 5 * time.Second
