// Package moattest is the conformance and containment suite that every moat
// backend must pass, and the helpers that decide when a backend's tests may
// be skipped.
//
// A backend's test calls [Run] with a constructor:
//
//	func TestMain(m *testing.M) {
//		native.Init() // backends that re-execute the test binary
//		os.Exit(m.Run())
//	}
//
//	func TestNative(t *testing.T) {
//		moattest.RequireBackend(t, "native")
//		moattest.Run(t, func() moat.Backend { return &native.Backend{} }, moattest.Options{})
//	}
//
// Run has two groups of subtests. "conformance" checks the contract of
// [moat.Backend] and [moat.Spec]: exit codes, output, stdin, arguments,
// environment, files, the workspace in and out, each limit with its status,
// cancellation, the read-only runtime, the network policy, cleanup,
// concurrency and the reported layers. "adversarial" runs attacks (reading
// host secrets, exfiltration, bombs, orphaned daemons, denied syscalls,
// terminal injection, leaked descriptors, privileges) and asserts that each
// one failed and left the host unchanged.
//
// Every case runs the program with the host's interpreter, prints what it
// observed as one JSON line, and asserts on the Result in Go: the program is
// the witness, never the judge. The cases that watch the host (leftover
// processes, cgroups) look at /proc and /sys/fs/cgroup of the host.
//
// Bombs and the cases that change the test process's environment run
// alone; the others run in parallel (go test's -parallel at once). A backend slow to start a run (a VM under
// emulation) declares how slow (Options.StartBound), and every bound on how
// long a case may take before it is called hung grows by that much.
package moattest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/audit"
)

// Options describe the backend under test and what of the suite to run.
type Options struct {
	// Python is the host interpreter given in every Spec; "" lets the
	// backend pick its default.
	Python string
	// NonRoot says the test runs as an ordinary user. The program may then
	// be uid 0 of its own user namespace (with no capabilities), so the
	// "not uid 0" check is relaxed.
	NonRoot bool
	// AllowDegraded is set in every Spec. Limits a missing layer (cgroups)
	// cannot enforce are then accepted when the Result lists that layer in
	// Degraded and the program was still stopped (e.g. a MemoryError
	// instead of a memory kill).
	AllowDegraded bool
	// Layers are names Result.Layers must contain (e.g. "seccomp").
	Layers []string
	// Container relaxes the few checks that assume native's own root
	// filesystem, for backends that run an image's Python in an OCI
	// container (see [ContainerOptions]); nil for every other backend.
	Container *Container
	// Sentry relaxes the checks that assume the program runs on the host's
	// kernel, for backends that run it on a user-space kernel (gVisor);
	// nil for every other backend.
	Sentry *Sentry
	// ReportLostAtLimit says why the report made inside the sandbox (the
	// walk of the writable directories, or all of it) can be lost when
	// the run ends at its memory limit ("": it cannot): native on cgroup v2
	// in the slow TCG guest, where the init's report of a filled tmpfs
	// outlasts the stop grace; a Pod's Sentry
	// holds the program's memory and the init's in one limit the host
	// cannot split, and dies with it; a micro-VM's guest agent dies with
	// its guest. The limit-hides cases then want the status and a report
	// that says it is incomplete.
	ReportLostAtLimit string
	// Concurrency is how many runs the concurrency case starts at once
	// (0: 8): fewer for a backend whose every run is heavy (a VM under
	// emulation, a CPU each), where more would only queue for the CPU.
	Concurrency int
	// StartBound is how long a run may take to start before its program
	// does (a guest kernel's boot under emulation). It is added to every
	// bound on how long a case may take before the suite calls it hung;
	// it asserts nothing about speed.
	StartBound time.Duration
	// ProgramStart is how long the interpreter may take to start inside
	// once the run has begun (Python under emulation takes seconds). It is
	// added to the timeout of the case whose program must print before
	// its timeout ends it (limit-timeout), and once per run started at
	// once to the concurrency case's.
	ProgramStart time.Duration
	// NoReport says the backend makes no behaviour report (no events,
	// no findings): the parts of cases that check the report are skipped,
	// and say so; what the program could do is still checked.
	NoReport bool
	// Cases, if not empty, runs only the named cases ("exit-code",
	// "fork-bomb"; see [CaseNames]). An unknown name fails the test.
	Cases []string
}

// Container describes what an OCI runtime (runc, as Docker and Podman use
// it) does whatever the engine is asked, and that a sandbox built on it
// therefore cannot change. Each relaxed check keeps its security point.
type Container struct {
	// ExtraDevices are /dev entries the runtime always makes (tty, ptmx,
	// pts, mqueue, core), allowed besides native's five devices. The
	// devices case still requires that /dev/tty cannot be opened, that
	// disks and kernel memory cannot be read and that mknod fails.
	ExtraDevices []string
	// SuidRoot: the image's root filesystem is not mounted nosuid (engines
	// have no option for it). The nosuid case then checks the writable
	// mounts only; no_new_privs, which the capabilities case requires,
	// makes set-uid bits inert.
	SuidRoot bool
	// Shell: the image brings its own /bin/sh and tools, so Spec.Userland
	// changes nothing; the userland case then requires a working, read-only
	// shell with and without it.
	Shell bool
}

// ContainerOptions is the Container of Docker and Podman under runc.
var ContainerOptions = &Container{ExtraDevices: []string{"tty", "ptmx", "pts", "mqueue", "core", "console"}, SuidRoot: true, Shell: true}

// Sentry describes a backend whose program runs on a user-space kernel
// (gVisor's Sentry): its processes are the Sentry's tasks, not host
// processes, and its /proc and errnos are what the Sentry implements. Each
// relaxed check keeps its security point.
type Sentry struct {
	// Leftovers lists what runs that have ended left on the host
	// (sandboxes, bundles, host processes). The cleanup and orphan-daemon
	// cases, which cannot see the program's processes from the host,
	// require it empty after Run instead.
	Leftovers func() []string
	// MemoryOverhead is the Sentry's own memory, counted with the
	// program's in Result.MaxRSSBytes.
	MemoryOverhead int64
	// ShmLostAtLimit says why the walk of /dev/shm, the one part of the
	// report pid 1 inside the user-space kernel makes after the run, can
	// be lost when the run ends at its memory limit ("": it cannot). The
	// limit-hides cases then accept that one incompleteness, said in the
	// report, and still want the rest whole.
	ShmLostAtLimit string
}

// A testCase is one subtest of the suite.
type testCase struct {
	name string
	// alone: not run in parallel with other cases (bombs, which distort
	// the timing of everything else, and cases that call t.Setenv).
	alone bool
	fn    func(t *testing.T, s *suite)
}

// CaseNames lists the names of every case, conformance then adversarial.
func CaseNames() []string {
	var names []string
	for _, c := range conformanceCases() {
		names = append(names, c.name)
	}
	for _, c := range append(adversarialCases(), integrityCases()...) {
		names = append(names, c.name)
	}
	return names
}

// suite is what a case needs: how to make a backend, the options, and the
// host state taken before any case ran.
type suite struct {
	newBackend func() moat.Backend
	opts       Options
}

// Run runs the conformance and adversarial cases against the backends that
// newBackend returns (a fresh one per case). At the end it checks that the
// whole suite left no cgroup of moat's behind.
func Run(t *testing.T, newBackend func() moat.Backend, opts Options) {
	t.Helper()
	want := map[string]bool{}
	for _, n := range opts.Cases {
		if !slices.Contains(CaseNames(), n) {
			t.Fatalf("moattest: unknown case %q (known: %s)", n, strings.Join(CaseNames(), ", "))
		}
		want[n] = true
	}
	s := &suite{newBackend: newBackend, opts: opts}
	before := moatCgroups()
	for _, group := range []struct {
		name  string
		cases []testCase
	}{{"conformance", conformanceCases()}, {"adversarial", append(adversarialCases(), integrityCases()...)}} {
		t.Run(group.name, func(t *testing.T) {
			// Cases that must run alone go first: parallel subtests only
			// start once this function has returned.
			sorted := slices.Clone(group.cases)
			sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].alone && !sorted[j].alone })
			for _, c := range sorted {
				if len(want) > 0 && !want[c.name] {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					if !c.alone {
						t.Parallel()
					}
					c.fn(t, s)
				})
			}
		})
	}
	t.Run("no-leftover-cgroups", func(t *testing.T) {
		checkNoNewCgroups(t, before)
	})
}

// spec returns a Spec for args with the suite's interpreter and degraded
// setting; cases fill in the rest.
func (s *suite) spec(args ...string) *moat.Spec {
	return &moat.Spec{Args: args, Python: s.opts.Python, AllowDegraded: s.opts.AllowDegraded}
}

// py returns a Spec that runs code with python -c; extra are sys.argv[1:].
func (s *suite) py(code string, extra ...string) *moat.Spec {
	return s.spec(append([]string{"-c", code}, extra...)...)
}

// hangBound is how long any single Run may take before the suite calls it
// a hang; every case's own limit is far below it. Cases use s.bound(hangBound).
const hangBound = 2 * time.Minute

// bound is d, a bound on how long a run may take, plus the backend's
// StartBound.
func (s *suite) bound(d time.Duration) time.Duration { return d + s.opts.StartBound }

// run runs spec on a fresh backend; a sandbox failure fails the test. On
// failure the Result is logged, since the program's output is the only
// witness of what happened inside.
// runWithin is run, and an error if the run took longer than limit (as
// bound stretches it): a limit that ends a run must end it, not hang.
func (s *suite) runWithin(t *testing.T, spec *moat.Spec, limit time.Duration) *moat.Result {
	t.Helper()
	start := time.Now()
	res := s.run(t, spec)
	if d := time.Since(start); d > s.bound(limit) {
		t.Errorf("the run took %s", d)
	}
	return res
}

func (s *suite) run(t *testing.T, spec *moat.Spec) *moat.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.bound(hangBound))
	defer cancel()
	return s.runCtx(t, ctx, spec)
}

func (s *suite) runCtx(t *testing.T, ctx context.Context, spec *moat.Spec) *moat.Result {
	t.Helper()
	start := time.Now()
	res, err := s.newBackend().Run(ctx, spec)
	if err != nil {
		t.Fatalf("Run: %v (result: %s)", err, describe(res))
	}
	if res == nil {
		t.Fatal("Run returned a nil Result and no error")
	}
	if time.Since(start) > s.bound(hangBound)-time.Second {
		t.Fatalf("Run took %s: it hung until the test's own deadline", time.Since(start))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("result: %s", describe(res))
		}
	})
	return res
}

// describe prints the parts of a Result that explain a failure.
func describe(r *moat.Result) string {
	if r == nil {
		return "<nil>"
	}
	return fmt.Sprintf("status=%s exit_code=%d signal=%d error=%q degraded=%q\nstdout (%d bytes, truncated %v): %s\nstderr (%d bytes, truncated %v): %s",
		r.Status, r.ExitCode, r.Signal, r.Error, r.Degraded,
		len(r.Stdout), r.StdoutTruncated, clip(r.Stdout), len(r.Stderr), r.StderrTruncated, clip(r.Stderr))
}

func clip(s string) string {
	if len(s) > 2000 {
		return fmt.Sprintf("%q…", s[:2000])
	}
	return fmt.Sprintf("%q", s)
}

// wantStatus fails the test unless the run ended with status and, for a
// non-negative exitStatus, maps to that exit status of `moat run`.
func wantStatus(t *testing.T, res *moat.Result, status moat.Status, exitStatus int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status = %q, want %q", res.Status, status)
	}
	if exitStatus >= 0 && res.ExitStatus() != exitStatus {
		t.Fatalf("ExitStatus() = %d, want %d", res.ExitStatus(), exitStatus)
	}
}

// wantExit0 fails the test unless the program exited by itself with 0.
func wantExit0(t *testing.T, res *moat.Result) {
	t.Helper()
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		t.Fatalf("status %q exit code %d, want exited 0", res.Status, res.ExitCode)
	}
}

// report decodes the last line of the program's stdout, the JSON object
// every probing case prints, into v.
func report(t *testing.T, res *moat.Result, v any) {
	t.Helper()
	wantExit0(t, res)
	lines := strings.Split(strings.TrimRight(res.Stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	if err := json.Unmarshal([]byte(last), v); err != nil {
		t.Fatalf("the program's report %q is not JSON: %v", last, err)
	}
}

// probes is the usual report: probe name to what happened, as a string
// such as "ok", "err:EPERM" or "read:<content>".
type probes map[string]string

// wantErr fails the test for every named probe that did not fail.
func (p probes) wantErr(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		v, ok := p[n]
		if !ok {
			t.Errorf("probe %q missing from the report", n)
		} else if !strings.HasPrefix(v, "err:") {
			t.Errorf("%s: %q, want it to fail", n, v)
		}
	}
}

// pyProbe is Python shared by the probing cases: helpers that never raise
// and describe an outcome as "ok", "read:…", "err:ERRNAME". It is the
// prelude of moat audit's probes, one source for both.
var pyProbe = audit.Prelude

// randomID returns a fresh identifier for markers and secrets.
func randomID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// lineWatcher is a Spec.Stdout that closes seen once the program printed
// a line containing want.
type lineWatcher struct {
	want string
	seen chan struct{}
	once sync.Once
	mu   sync.Mutex
	buf  bytes.Buffer
}

func newLineWatcher(want string) *lineWatcher {
	return &lineWatcher{want: want, seen: make(chan struct{})}
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	hit := strings.Contains(w.buf.String(), w.want)
	w.mu.Unlock()
	if hit {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// waitSeen waits for the watched line; it returns false after d, or when
// done (the run ended) is closed first.
func (w *lineWatcher) waitSeen(d time.Duration, done <-chan struct{}) bool {
	select {
	case <-w.seen:
		return true
	case <-done:
		select {
		case <-w.seen:
			return true
		default:
			return false
		}
	case <-time.After(d):
		return false
	}
}

// degradedCgroups reports whether the run went without cgroups, so that
// memory and process limits were rlimits only.
func degradedCgroups(res *moat.Result) bool {
	for _, d := range res.Degraded {
		if strings.Contains(d, "cgroup") {
			return true
		}
	}
	return false
}
