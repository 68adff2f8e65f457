package moat

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrSandbox is wrapped by the error a backend returns when the sandbox
// itself failed: the program's outcome is unknown.
var ErrSandbox = errors.New("sandbox failed")

// Ending is what a backend knows when a run is over, in the terms every
// backend shares. [Ending.Classify] turns it into the Result's status: the
// one place where how a run ended is decided.
type Ending struct {
	// Stop is why moat stopped the run (timeout, output cap, cancel, a
	// limit seen while running), or "". A StatusError stop is not a
	// reason: the rest of the Ending then says what happened.
	Stop Status
	// OOMKills counts the memory limit's kills (-1: the limit was hit on
	// a kernel that does not count kills); PidsHits counts forks refused
	// by the process limit.
	OOMKills, PidsHits int64
	// StartErr, if set, says why the program could not be started (the
	// Result's Error, as the backend words it), and StartErrno is the
	// errno of its exec (0 if there was none: the sandbox's setup failed).
	StartErr   string
	StartErrno syscall.Errno
	// Exited says that the program's end is known: ExitCode, or Signal
	// when a signal killed it.
	Exited           bool
	ExitCode, Signal int
	// Lost says why the sandbox ended without telling how the program
	// ended, when Exited is false.
	Lost string
}

// Classify sets res's Status, ExitCode, Signal and Error from e. It
// returns an error wrapping ErrSandbox, prefixed with backend, when the
// sandbox failed so that the program's outcome is unknown; res is filled
// in either case.
//
// Order matters: moat's own stop wins (a program killed at its timeout
// exits by SIGKILL, which is not its doing); then a program that never
// started (exit 127 or 126 as a shell gives, so scripts can tell); then a
// limit the kernel enforced (the program may have died of a failed
// allocation or fork before moat noticed, with any exit status); then the
// program's own exit or signal.
func (e Ending) Classify(backend string, res *Result) error {
	setExit := func() {
		if e.Exited {
			res.ExitCode, res.Signal = e.ExitCode, e.Signal
		}
	}
	switch {
	case e.Stop != "" && e.Stop != StatusError:
		res.Status = e.Stop
		setExit()
	case e.StartErr != "":
		res.Status = StatusError
		res.Error = e.StartErr
		switch e.StartErrno {
		case syscall.ENOENT:
			res.ExitCode = 127
		case syscall.EACCES, syscall.ENOEXEC, syscall.EPERM:
			res.ExitCode = 126
		default:
			return fmt.Errorf("%s: %s: %w", backend, res.Error, ErrSandbox)
		}
	case e.OOMKills != 0:
		res.Status = StatusMemory
		setExit()
	case e.PidsHits > 0:
		res.Status = StatusPids
		setExit()
	case !e.Exited:
		res.Status = StatusError
		res.Error = "ended without a report"
		if e.Lost != "" {
			res.Error += ": " + e.Lost
		}
		return fmt.Errorf("%s: %s: %w", backend, res.Error, ErrSandbox)
	case e.Signal != 0:
		res.Status, res.Signal = StatusSignaled, e.Signal
	default:
		res.Status, res.ExitCode = StatusExited, e.ExitCode
	}
	return nil
}
