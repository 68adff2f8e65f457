package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
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
		end := r.SuperviseProgram(context.Background(), 50*time.Millisecond, time.Hour, reaped, reaped, nil)
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
		end := r.SuperviseProgram(context.Background(), time.Hour, 10*time.Millisecond, reaped, reaped, nil)
		defer end()
		<-killed
		if got := r.End(); got != moat.StatusError || !r.PastBound() {
			t.Fatalf("reason %q, PastBound %v; want error, true", got, r.PastBound())
		}
	})
	t.Run("timeout", func(t *testing.T) {
		killed := make(chan struct{})
		r := NewRun(func() { close(killed) })
		started := make(chan struct{})
		close(started)
		end := r.SuperviseProgram(context.Background(), 10*time.Millisecond, time.Hour, started, make(chan struct{}), nil)
		defer end()
		<-killed
		if got := r.End(); got != moat.StatusTimeout || r.PastBound() {
			t.Fatalf("reason %q, PastBound %v; want timeout, false", got, r.PastBound())
		}
	})
	// The timeout runs from the init's started frame: a container that
	// starts its program late (the engine's locks, a loaded host) is not
	// stopped before the init, which keeps the program's clock from its
	// start, stopped the program and sent the report.
	t.Run("started late", func(t *testing.T) {
		killed := make(chan struct{})
		r := NewRun(func() { close(killed) })
		started := make(chan struct{})
		end := r.SuperviseProgram(context.Background(), 10*time.Millisecond, time.Hour, started, make(chan struct{}), nil)
		defer end()
		select {
		case <-killed:
			t.Fatalf("stopped at the timeout before the program started: %s", r.End())
		case <-time.After(300 * time.Millisecond):
		}
		close(started)
		<-killed
		if got := r.End(); got != moat.StatusTimeout {
			t.Fatalf("reason %q, want timeout", got)
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

// TestVerifyExpected: a layer the init found not in effect leaves Layers
// for Degraded; without AllowDegraded that is ErrDegraded. An init that
// did not check what was asked leaves every asked layer unverified.
func TestVerifyExpected(t *testing.T) {
	expect := &ctrinit.Expect{Sized: map[string]int64{"/dev/shm": 1 << 20}, LoopbackOnly: true}
	layers := []moat.Layer{{Name: "disk"}, {Name: "network"}, {Name: "seccomp"}}
	for _, tt := range []struct {
		name     string
		exit     Exit
		allow    bool
		err      bool
		degraded int
		left     []string
	}{
		{"all in effect", Exit{Checked: true}, false, false, 0, []string{"disk", "network", "seccomp"}},
		{"unsized", Exit{Checked: true, Unmet: []ctrinit.Unmet{{Layer: "disk", Why: "/dev/shm is big\x1b[2J"}}}, false, true, 1, []string{"network", "seccomp"}},
		{"unsized, allowed", Exit{Checked: true, Unmet: []ctrinit.Unmet{{Layer: "disk", Why: "/dev/shm is big"}}}, true, false, 1, []string{"network", "seccomp"}},
		{"not checked", Exit{}, false, true, 2, []string{"seccomp"}},
		{"not checked, allowed", Exit{}, true, false, 2, []string{"seccomp"}},
	} {
		spec := &moat.Spec{Args: []string{"-c", "pass"}, AllowDegraded: tt.allow}
		s := NewSession(spec, spec.Limits.WithDefaults(), NewPersona(""), func(moat.Status) {})
		s.Expect = expect
		res := &moat.Result{Layers: slices.Clone(layers)}
		err := s.verifyExpected(res, &tt.exit)
		if (err != nil) != tt.err || err != nil && !errors.Is(err, moat.ErrDegraded) {
			t.Errorf("%s: err = %v", tt.name, err)
		}
		var left []string
		for _, l := range res.Layers {
			left = append(left, l.Name)
		}
		if len(res.Degraded) != tt.degraded || !slices.Equal(left, tt.left) {
			t.Errorf("%s: Degraded %q, layers %q", tt.name, res.Degraded, left)
		}
		for _, d := range res.Degraded {
			if strings.ContainsRune(d, 0x1b) {
				t.Errorf("%s: a control character in Degraded: %q", tt.name, d)
			}
		}
	}
}

// TestKillNote: where killing only the program's processes at a limit
// fails (here: no init in the cgroup), the whole container is killed and
// KillNote says why; the first reason stays the status.
func TestKillNote(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	killed := make(chan struct{})
	r := NewRun(func() { close(killed) })
	r.KillProgram = true
	if r.KillNote() != "" {
		t.Fatalf("KillNote before any stop: %q", r.KillNote())
	}
	r.stopProgram(moat.StatusMemory, Cgroup{Memory: dir})
	select {
	case <-killed:
	case <-time.After(5 * time.Second):
		t.Fatal("the container was not killed")
	}
	if n := r.KillNote(); !strings.Contains(n, "memory limit") || !strings.Contains(n, "no init in the container's cgroup") {
		t.Errorf("KillNote %q: want the limit and why", n)
	}
	if s := r.End(); s != moat.StatusMemory {
		t.Errorf("status %s, want memory", s)
	}
}
