package container

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
)

func TestNote(t *testing.T) {
	for _, c := range []struct {
		label string
		err   error
		want  string
	}{
		{"send", nil, ""},
		{"send", errors.New("broken pipe"), " (send: broken pipe)"},
		{"", errors.New("init protocol violated"), " (init protocol violated)"},
	} {
		if got := Note(c.label, c.err); got != c.want {
			t.Errorf("Note(%q, %v) = %q, want %q", c.label, c.err, got, c.want)
		}
	}
}

// TestSuperviseProgram: once the program is reaped its timeout no longer
// stops the run; the bound after it does, with StatusError and PastBound.
// A run not reaped in time ends at its timeout, as with Supervise.
func TestSuperviseProgram(t *testing.T) {
	t.Run("reaped", func(t *testing.T) {
		killed := make(chan struct{})
		r := NewRun(func() { close(killed) })
		reaped := make(chan struct{})
		close(reaped)
		end := r.SuperviseProgram(context.Background(), 50*time.Millisecond, time.Hour, reaped, nil)
		defer end()
		select {
		case <-killed:
			t.Fatalf("stopped after the program was reaped: %s", r.End())
		case <-time.After(500 * time.Millisecond):
		}
	})
	t.Run("past the bound", func(t *testing.T) {
		killed := make(chan struct{})
		r := NewRun(func() { close(killed) })
		reaped := make(chan struct{})
		close(reaped)
		end := r.SuperviseProgram(context.Background(), time.Hour, 10*time.Millisecond, reaped, nil)
		defer end()
		<-killed
		if got := r.End(); got != moat.StatusError || !r.PastBound() {
			t.Fatalf("reason %q, PastBound %v; want error, true", got, r.PastBound())
		}
	})
	t.Run("timeout", func(t *testing.T) {
		killed := make(chan struct{})
		r := NewRun(func() { close(killed) })
		end := r.SuperviseProgram(context.Background(), 10*time.Millisecond, time.Hour, make(chan struct{}), nil)
		defer end()
		<-killed
		if got := r.End(); got != moat.StatusTimeout || r.PastBound() {
			t.Fatalf("reason %q, PastBound %v; want timeout, false", got, r.PastBound())
		}
	})
}

// TestFinishGuard: a run under the guarded profile whose init did not
// guard is an error, never a result: refused for want of the guard (no
// --allow-degraded way round it), or run without it (an init that does
// not know the guard).
func TestFinishGuard(t *testing.T) {
	for _, c := range []struct {
		name  string
		guard bool
		e     Exit
		err   error
	}{
		{"guarded", true, Exit{Seccomp: 2, NoNewPrivs: 1, Guarded: true}, nil},
		{"unguarded run", true, Exit{Seccomp: 2, NoNewPrivs: 1}, moat.ErrSandbox},
		{"refused", true, Exit{Refused: true, Unguarded: true, Error: "the init's seccomp guard could not be installed"}, moat.ErrSandbox},
		{"no guard asked", false, Exit{Seccomp: 2, NoNewPrivs: 1}, nil},
		{"not started", true, Exit{Error: "no such file", Errno: 2}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := NewSession(&moat.Spec{NoReport: true}, moat.Limits{}, Persona{}, func(moat.Status) {})
			s.Guard = c.guard
			s.exit = &c.e
			close(s.exited)
			res, err := s.Finish(&moat.Result{}, "docker", "", Stats{}, "", "", nil)
			if !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if c.err != nil && res.Status != moat.StatusError {
				t.Errorf("status %s, want error", res.Status)
			}
			if errors.Is(err, moat.ErrDegraded) {
				t.Errorf("a missing guard is offered --allow-degraded: %v", err)
			}
		})
	}
}
