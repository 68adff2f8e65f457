package container

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

// Validate refuses what no container backend does: an invalid spec, a
// network other than none, or a host interpreter. backend prefixes the
// error ("docker").
func Validate(backend string, spec *moat.Spec) error {
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("%s: %w", backend, err)
	}
	return Supports(backend, spec)
}

// ValidateSink is Validate for a backend that serves the sinkhole
// (SupportsSink).
func ValidateSink(backend string, spec *moat.Spec) error {
	return ValidateSinkEnter(backend, spec, false)
}

// ValidateSinkEnter is ValidateSink for a backend that can start moat in
// the user namespace owning its containers' network namespaces
// (Session.SinkEnter), when enter says it can.
func ValidateSinkEnter(backend string, spec *moat.Spec, enter bool) error {
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("%s: %w", backend, err)
	}
	return supports(backend, spec, true, enter)
}

// Supports says whether a container backend can enforce spec: network
// none only, and the image's python3 (never a host interpreter). The error
// wraps moat.ErrUnsupported.
func Supports(backend string, spec *moat.Spec) error { return supports(backend, spec, false, false) }

// SupportsSink is Supports for a backend whose containers' network
// namespaces this host can enter (docker and podman on the local
// engine): network sinkhole too, where this moat can serve it
// (SinkSupported).
func SupportsSink(backend string, spec *moat.Spec) error { return supports(backend, spec, true, false) }

// SupportsSinkEnter is SupportsSink for a backend that can start moat in
// the user namespace owning its containers' network namespaces, when
// enter says it can (Session.SinkEnter).
func SupportsSinkEnter(backend string, spec *moat.Spec, enter bool) error {
	return supports(backend, spec, true, enter)
}

func supports(backend string, spec *moat.Spec, sink, enter bool) error {
	switch {
	case spec.Network == moat.NetworkNone:
	case spec.Network == moat.NetworkSinkhole && sink:
		if err := sinkSupported(enter); err != nil {
			return fmt.Errorf("%s: network mode sinkhole: %s: %w", backend, err, moat.ErrUnsupported)
		}
	case sink:
		return fmt.Errorf("%s: network mode %q: this backend enforces only none and sinkhole: %w", backend, spec.Network, moat.ErrUnsupported)
	default:
		return fmt.Errorf("%s: network mode %q: this backend enforces only none: %w", backend, spec.Network, moat.ErrUnsupported)
	}
	if spec.Python != "" {
		return fmt.Errorf("%s: --python %q names a host interpreter; containers run the image's python3 (choose it with --image): %w", backend, spec.Python, moat.ErrUnsupported)
	}
	return nil
}

// Run is the bookkeeping of one container run: why moat stopped it (the
// first reason wins, and none after End), and the container's cgroup once
// resolved, with its counters as they were when the program ended.
type Run struct {
	kill func()
	// KillProgram, when set (a runtime whose container processes are
	// the program's and its init's, on this host: runc, crun), has a
	// memory breach kill the program's processes alone and leave the
	// init to reap them and send the report's walks, which a container
	// killed from outside loses; the run's other bounds stop it still.
	KillProgram bool

	mu       sync.Mutex
	reason   moat.Status
	soft     moat.Status // a breach whose program alone was killed (stopProgram)
	stopOnce sync.Once

	cgMu    sync.Mutex
	cg      Cgroup
	cgReady chan struct{}
	final   *Stats

	pastBound atomic.Bool // SuperviseProgram's bound after the program

	daemons []survivors.Process // listed by the host at the pids limit (Daemons)
	// killNote: why killing only the program's processes failed and the
	// whole container was killed (stopProgram), "" if it did not.
	killNote string
}

// Daemons returns the daemons the host listed when the pids limit ended
// the run (Cgroup.daemonsAtLimit): the container is killed there before
// its init can list them. Session.Daemons takes it.
func (r *Run) Daemons() []survivors.Process {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.daemons
}

// NewRun returns the bookkeeping of a run whose container kill kills.
func NewRun(kill func()) *Run {
	return &Run{kill: kill, cgReady: make(chan struct{})}
}

// Stop kills the container for reason; the first reason wins. The kill
// runs in its own goroutine, so Stop never blocks.
func (r *Run) Stop(reason moat.Status) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.reason = cmp.Or(r.soft, reason)
		r.mu.Unlock()
		go r.kill()
	})
}

// stopProgram ends the run for reason by killing the program's processes
// in cg (KillProgram), or, where that cannot be, the container (Stop).
// The first reason still wins, and Stop still kills the container later.
func (r *Run) stopProgram(reason moat.Status, cg Cgroup) {
	if r.KillProgram {
		r.mu.Lock()
		first := r.soft == "" && r.reason == ""
		if first {
			r.soft = reason
		}
		r.mu.Unlock()
		if !first {
			return
		}
		err := cg.killProgram()
		if err == nil {
			return
		}
		r.mu.Lock()
		r.killNote = "moat killed the whole container at the " + string(reason) + " limit: killing only the program's processes failed (" + err.Error() + ")"
		r.mu.Unlock()
	}
	r.Stop(reason)
}

// KillNote says why moat killed the whole container where it meant to
// kill only the program's processes, "" if it did not: Session.KillNote
// takes it.
func (r *Run) KillNote() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.killNote
}

// End ends the run's stops (none after it) and returns the reason moat
// stopped the run for, "" if it did not.
func (r *Run) End() moat.Status {
	r.stopOnce.Do(func() {})
	r.mu.Lock()
	defer r.mu.Unlock()
	return cmp.Or(r.reason, r.soft)
}

// Resolved records the container's cgroup (the zero Cgroup if it could not
// be found); call it once.
func (r *Run) Resolved(cg Cgroup) {
	r.cgMu.Lock()
	r.cg = cg
	r.cgMu.Unlock()
	close(r.cgReady)
}

// Cgroup returns the container's cgroup, the zero Cgroup until resolved.
func (r *Run) Cgroup() Cgroup {
	r.cgMu.Lock()
	defer r.cgMu.Unlock()
	return r.cg
}

// FinalStats reads the counters when the init reports the program's
// end, while the container (and its cgroup) still exists: Session.OnExit.
func (r *Run) FinalStats() {
	select {
	case <-r.cgReady:
	case <-time.After(5 * time.Second):
	}
	st := r.Cgroup().Stats()
	r.cgMu.Lock()
	r.final = &st
	r.cgMu.Unlock()
}

// Stats returns the counters read by FinalStats, or reads them now.
func (r *Run) Stats() Stats {
	r.cgMu.Lock()
	defer r.cgMu.Unlock()
	if r.final != nil {
		return *r.final
	}
	return r.cg.Stats()
}

// StopSlack is how long past the timeout the host waits before it stops
// the container itself: the init keeps the program's wall clock
// (ctrinit.Header.StopS), kills the program at the timeout and still
// sends the report's walks, which a container stopped from outside would
// lose (a program that writes a startup file and hangs).
const StopSlack = 5 * time.Second

// AfterBound bounds the init's work once the program has ended (the
// report's walks, the copy-out of /work): SuperviseProgram's after.
const AfterBound = 2 * time.Minute

// StartBound bounds how long a container may take to start its program
// (the engine's locks, an image's layers, a loaded host): until the
// init's started frame the host's clock for the timeout runs from the
// run's start plus this. A host clock that ran from the run's start alone
// stopped a container that started late before the init, whose clock runs
// from the program's start, had stopped the program and sent the report's
// walks (CI, session 21: rootless podman under load lost the walk of a
// program that wrote a .pth file and hung).
const StartBound = 3 * time.Minute

// SuperviseProgram stops the run at timeout (StatusTimeout; StopSlack
// later, the init having stopped the program at timeout itself), when ctx
// is canceled (StatusCanceled), and at a cgroup limit breach until
// exited is closed. The timeout is the program's alone: once reaped is
// closed (Session.Reaped) it no longer applies, and what the init still
// sends (the report's walks, the copy-out) has a bound of its own, after,
// past which the run is stopped with StatusError and PastBound says so.
// The timeout runs from when started is closed (Session.Started), the
// program's start, and at most StartBound from the call before it.
// Call the returned func when the run is over.
func (r *Run) SuperviseProgram(ctx context.Context, timeout, after time.Duration, started, reaped, exited <-chan struct{}) (end func()) {
	var mu sync.Mutex
	timer := time.AfterFunc(StartBound+timeout+StopSlack, func() { r.Stop(moat.StatusTimeout) })
	done := make(chan struct{})
	go func() {
		select {
		case <-started:
			mu.Lock()
			if timer.Stop() {
				timer = time.AfterFunc(timeout+StopSlack, func() { r.Stop(moat.StatusTimeout) })
			}
			mu.Unlock()
		case <-reaped:
		case <-done:
			return
		}
		select {
		case <-reaped:
			mu.Lock()
			if timer.Stop() {
				timer = time.AfterFunc(after, func() {
					r.pastBound.Store(true)
					r.Stop(moat.StatusError)
				})
			}
			mu.Unlock()
		case <-done:
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			r.Stop(moat.StatusCanceled)
		case <-done:
		}
	}()
	go r.watch(done, exited)
	return func() {
		close(done)
		mu.Lock()
		timer.Stop()
		mu.Unlock()
	}
}

// PastBound says whether SuperviseProgram stopped the run because the
// init's work after the program passed its bound.
func (r *Run) PastBound() bool { return r.pastBound.Load() }

// Cause is cause for Session.Finish, or, when SuperviseProgram stopped
// the run past its bound after the program, what that bound was.
func (r *Run) Cause(cause error, after time.Duration) error {
	if r.PastBound() {
		return fmt.Errorf("the program ended, but moat's init did not finish the report's walks and the copy-out of /work within %s", after)
	}
	return cause
}

// watch ends the run when a cgroup limit is breached: the kernel kills on
// memory, but on pids it only fails forks, and a breach must end the run
// with its own status. (cgroup.Watch does the same for a cgroup.Group,
// which a container's cgroup, owned by the engine, is not.)
func (r *Run) watch(done, exited <-chan struct{}) {
	select {
	case <-r.cgReady:
	case <-done:
		return
	}
	cg := r.Cgroup()
	if !cg.Found() {
		return
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-exited:
			return
		case <-t.C:
		}
		st := cg.Stats()
		if st.OOMKills > 0 {
			r.stopProgram(moat.StatusMemory, cg)
			return
		}
		if st.PidsMax > 0 {
			var ds []survivors.Process
			if r.KillProgram { // the container's processes are this host's
				ds = cg.daemonsAtLimit()
			}
			r.mu.Lock()
			r.daemons = ds
			r.mu.Unlock()
			r.Stop(moat.StatusPids)
			return
		}
	}
}

// Finish sets res from the run's end (see Outcome) and returns it, with an
// error prefixed by backend for a failure of the sandbox: detail (say,
// what the engine reported) is appended to the outcome's error, and cause,
// if any, names why moat stopped the run with StatusError.
//
// A protocol violation (Receive) wins over everything: the run is an
// error, whatever the frames before it said (the program may have written
// them), and the report has an evasion finding.
func (s *Session) Finish(res *moat.Result, backend string, reason moat.Status, st Stats, diag, detail string, cause error) (*moat.Result, error) {
	if s.violation != nil {
		res.Status, res.ExitCode, res.Signal = moat.StatusError, 0, 0
		res.Error = s.violation.Error()
		return res, fmt.Errorf("%s: %w", backend, s.violation)
	}
	if e := s.ExitReport(); e != nil {
		switch {
		case e.Refused && e.Unguarded:
			res.Status, res.Error = moat.StatusError, e.Error
			return res, fmt.Errorf("%s: %s: %w", backend, e.Error, moat.ErrSandbox)
		case e.Refused:
			res.Status, res.Error = moat.StatusError, e.Error
			return res, fmt.Errorf("%s: %s (pass --allow-degraded to run without it): %w", backend, e.Error, moat.ErrDegraded)
		case s.Guard && !e.Guarded && e.Error == "":
			// The profile let the guarded calls through and the init
			// did not guard them: nothing of the run is believed.
			res.Status, res.ExitCode, res.Signal = moat.StatusError, 0, 0
			res.Error = "the container's init ran the program without its seccomp guard"
			return res, fmt.Errorf("%s: %s: %w", backend, res.Error, moat.ErrSandbox)
		}
		verifyLayers(res, e, s.Guard)
		if err := s.verifyExpected(res, e); err != nil {
			return res, fmt.Errorf("%s: %w", backend, err)
		}
	}
	if err := s.Outcome(res, backend, reason, st, diag); err != nil {
		res.Error += detail
		return res, fmt.Errorf("%s: %s: %w", backend, res.Error, moat.ErrSandbox)
	}
	if reason == moat.StatusError && res.Status != moat.StatusError {
		// moat killed the container for a failure of its own.
		res.Status, res.Error = moat.StatusError, "sandbox failure"
		if cause != nil {
			res.Error = cause.Error()
		}
		return res, fmt.Errorf("%s: %s", backend, res.Error)
	}
	return res, nil
}

// Note is err as a detail for Finish: " (label: err)", " (err)" without a
// label, "" without an error.
func Note(label string, err error) string {
	switch {
	case err == nil:
		return ""
	case label == "":
		return " (" + err.Error() + ")"
	}
	return " (" + label + ": " + err.Error() + ")"
}

// verifyExpected moves the layers of Session.Expect that the init found
// not in effect (Exit.Unmet) from res.Layers to res.Degraded. An init that
// did not check them (it never should) leaves them all unverified, and a
// run that did not allow a degraded one is then an error: fail closed.
func (s *Session) verifyExpected(res *moat.Result, e *Exit) error {
	if s.Expect == nil {
		return nil
	}
	unmet := e.Unmet
	if !e.Checked {
		unmet = nil
		for _, l := range ExpectedLayers(s.Expect) {
			unmet = append(unmet, ctrinit.Unmet{Layer: l, Why: "not checked by the container's init"})
		}
	}
	var whys []string
	for _, u := range unmet {
		why := termsafe.Line(termsafe.Inline(u.Layer+": "+u.Why), 600)
		whys = append(whys, why)
		if i := slices.IndexFunc(res.Layers, func(l moat.Layer) bool { return l.Name == u.Layer }); i >= 0 {
			res.Layers = slices.Delete(res.Layers, i, i+1)
		}
		res.Degraded = append(res.Degraded, why)
	}
	if len(whys) > 0 && !s.spec.AllowDegraded {
		res.Status, res.Error = moat.StatusError, strings.Join(whys, "; ")
		return fmt.Errorf("%s (pass --allow-degraded to run without it): %w", res.Error, moat.ErrDegraded)
	}
	return nil
}

// ExpectedLayers names the layers e asks the init to check.
func ExpectedLayers(e *ctrinit.Expect) []string {
	var out []string
	for _, c := range []struct {
		on    bool
		layer string
	}{{len(e.Sized) > 0, "disk"}, {e.NonRoot, "user"}, {e.NoCapabilities, "capabilities"}, {e.ReadOnlyRoot, "read-only-rootfs"}, {e.LoopbackOnly, "network"}} {
		if c.on {
			out = append(out, c.layer)
		}
	}
	return out
}

// verifyLayers keeps in res.Layers the confinement layers the init found
// in effect (its /proc/self/status, which the program inherits), and moves
// the others to res.Degraded: a runtime may take the profile and not apply
// it (runsc without --oci-seccomp).
func verifyLayers(res *moat.Result, e *Exit, guard bool) {
	if guard && e.Guarded {
		if i := slices.IndexFunc(res.Layers, func(l moat.Layer) bool { return l.Name == "seccomp" }); i >= 0 {
			res.Layers[i].Detail += "; the calls native denies whatever their arguments (mount, unshare, setns, ptrace, keyctl, bpf, kexec_load, init_module, ...) " +
				"pass the profile to the init's own filter, which refuses each with native's errno and reports it (kernel-seen)"
		}
	}
	for _, c := range []struct {
		layer string
		ok    bool
		why   string
	}{
		{"seccomp", e.Seccomp == 2, fmt.Sprintf("seccomp: the profile is not in effect in the container (Seccomp %d in /proc/self/status): the runtime did not apply it (runsc needs --oci-seccomp)", e.Seccomp)},
		{"no-new-privs", e.NoNewPrivs == 1, fmt.Sprintf("no-new-privs: not in effect in the container (NoNewPrivs %d in /proc/self/status)", e.NoNewPrivs)},
	} {
		if c.ok {
			continue
		}
		i := slices.IndexFunc(res.Layers, func(l moat.Layer) bool { return l.Name == c.layer })
		if i < 0 {
			continue
		}
		res.Layers = slices.Delete(res.Layers, i, i+1)
		res.Degraded = append(res.Degraded, c.why)
	}
}
