package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/gvisor"
)

// Phase is one batch of runs on one backend.
type Phase struct {
	Backend     string
	Runs        int
	Concurrency int
}

func (p Phase) String() string {
	return fmt.Sprintf("%s %d runs at concurrency %d", p.Backend, p.Runs, p.Concurrency)
}

// ParsePhases reads "native:2000:1,docker:200:4".
func ParsePhases(s string) ([]Phase, error) {
	var ps []Phase
	for _, f := range strings.Split(s, ",") {
		parts := strings.Split(strings.TrimSpace(f), ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("phase %q: want BACKEND:RUNS:CONCURRENCY", f)
		}
		n, err1 := strconv.Atoi(parts[1])
		c, err2 := strconv.Atoi(parts[2])
		if err := errors.Join(err1, err2); err != nil || n < 1 || c < 1 {
			return nil, fmt.Errorf("phase %q: want positive numbers of runs and concurrency", f)
		}
		ps = append(ps, Phase{Backend: parts[0], Runs: n, Concurrency: c})
	}
	return ps, nil
}

// Config is what every run of a soak shares.
type Config struct {
	Python string // native, gvisor: the host interpreter ("" for the default)
	Image  string // backends other than native ("" for the backend's default)
	// Marker is an argument of every program: its processes carry it in
	// their command line, which is how the soak finds any left behind.
	Marker string
}

// kind is one sort of run of the mixed workload, with the one outcome it
// may have.
type kind struct {
	name string
	want moat.Status
	code string
	// set adjusts the limits; slow is true for container backends, whose
	// runs take a second or more to start.
	set func(l *moat.Limits, slow bool)
	// cancelAfter, if set, cancels the run's context that long after Run.
	cancelAfter func(slow bool) time.Duration
	check       func(r *moat.Result) error
}

const outputCap = 64 << 10

var kinds = []kind{
	{name: "ok", want: moat.StatusExited, code: "import sys; print('ok', sys.argv[1])",
		check: func(r *moat.Result) error {
			if r.ExitCode != 0 || !strings.HasPrefix(r.Stdout, "ok ") {
				return fmt.Errorf("exit %d, stdout %q", r.ExitCode, clip(r.Stdout))
			}
			return nil
		}},
	{name: "fail", want: moat.StatusExited, code: "import sys; sys.stderr.write('failing\\n'); sys.exit(3)",
		check: func(r *moat.Result) error {
			if r.ExitCode != 3 || r.Stderr != "failing\n" {
				return fmt.Errorf("exit %d, stderr %q", r.ExitCode, clip(r.Stderr))
			}
			return nil
		}},
	{name: "timeout", want: moat.StatusTimeout, code: "import time; time.sleep(120)",
		set: func(l *moat.Limits, slow bool) {
			l.Timeout = 300 * time.Millisecond
			if slow {
				l.Timeout = 3 * time.Second
			}
		}},
	{name: "memory", want: moat.StatusMemory, code: "b = bytearray(256 << 20); print(len(b))",
		set: func(l *moat.Limits, slow bool) { l.Memory = 64 << 20 }},
	{name: "cancel", want: moat.StatusCanceled, code: "import time; time.sleep(120)",
		cancelAfter: func(slow bool) time.Duration {
			if slow {
				return 2 * time.Second
			}
			return 200 * time.Millisecond
		}},
	{name: "output", want: moat.StatusOutputLimit, code: "import sys\nwhile True: sys.stdout.write('x' * 65536)",
		set: func(l *moat.Limits, slow bool) { l.OutputLimit = outputCap },
		check: func(r *moat.Result) error {
			if len(r.Stdout) > outputCap || !r.StdoutTruncated {
				return fmt.Errorf("stdout %d bytes (cap %d), truncated %v", len(r.Stdout), outputCap, r.StdoutTruncated)
			}
			return nil
		}},
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// PhaseResult is what one phase measured.
type PhaseResult struct {
	Phase
	Wall     time.Duration
	Statuses map[string]int           // "kind: status" -> count
	Wrong    []string                 // runs whose outcome was not their kind's
	Time     map[string]time.Duration // kind -> total wall time of its runs
	Count    map[string]int
	// FDs and Goroutines of this process: after the first runs (warm),
	// half-way, and once every run has returned (end).
	FDs, Goroutines [3]int
}

// RunsPerSecond is the phase's throughput.
func (r *PhaseResult) RunsPerSecond() float64 { return float64(r.Runs) / r.Wall.Seconds() }

// RunPhase runs p.Runs runs of the mixed workload, p.Concurrency at a time,
// and checks each one's outcome. The first p.Concurrency runs warm up
// (clients, caches, the init volume); the process's descriptors and
// goroutines are counted when they are done and nothing runs, half-way
// through the rest, and when every run has returned.
func RunPhase(ctx context.Context, b moat.Backend, p Phase, cfg Config) *PhaseResult {
	res := &PhaseResult{Phase: p, Statuses: map[string]int{}, Time: map[string]time.Duration{}, Count: map[string]int{}}
	slow := p.Backend != "native"
	sample := func(i int) {
		if i != 1 {
			runtime.GC() // an unreachable *os.File is closed, not leaked
		}
		res.FDs[i], res.Goroutines[i] = countFDs(), runtime.NumGoroutine()
	}
	var mu sync.Mutex
	var next, done atomic.Int64
	batch := func(upto int64, mid int64) {
		var wg sync.WaitGroup
		for w := 0; w < p.Concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= upto || ctx.Err() != nil {
						next.Add(-1)
						return
					}
					k := kinds[i%int64(len(kinds))]
					t0 := time.Now()
					got, wrong := runOne(ctx, b, k, slow, cfg)
					mu.Lock()
					res.Time[k.name] += time.Since(t0)
					res.Count[k.name]++
					res.Statuses[k.name+": "+got]++
					if wrong != "" {
						res.Wrong = append(res.Wrong, fmt.Sprintf("run %d (%s): %s", i, k.name, wrong))
					}
					if done.Add(1) == mid {
						sample(1)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	warm := int64(min(p.Concurrency, p.Runs))
	start := time.Now()
	batch(warm, -1)
	res.Wall = time.Since(start)
	time.Sleep(500 * time.Millisecond)
	sample(0)
	start = time.Now()
	batch(int64(p.Runs), warm+(int64(p.Runs)-warm)/2)
	res.Wall += time.Since(start)
	settle(func() bool { return countFDs() <= res.FDs[0] && runtime.NumGoroutine() <= res.Goroutines[0] })
	sample(2)
	return res
}

// Flat reports whether the descriptors and goroutines of this process
// came back to where they were after the warm-up, give or take slack (an
// idle connection of an engine's client that comes and goes).
func (r *PhaseResult) Flat(slack int) error {
	if r.FDs[2] > r.FDs[0]+slack || r.Goroutines[2] > r.Goroutines[0]+slack {
		return fmt.Errorf("%s: descriptors %d after the warm-up, %d at the end; goroutines %d, %d", r.Phase, r.FDs[0], r.FDs[2], r.Goroutines[0], r.Goroutines[2])
	}
	return nil
}

// runOne runs one program of kind k and returns its status (or "error")
// and, if its outcome is not k's, what was wrong.
func runOne(ctx context.Context, b moat.Backend, k kind, slow bool, cfg Config) (string, string) {
	spec := &moat.Spec{
		Args:   []string{"-c", k.code, cfg.Marker},
		Python: cfg.Python,
		Limits: moat.Limits{Timeout: 60 * time.Second, Memory: 256 << 20},
	}
	if slow {
		spec.Image = cfg.Image // native runs the host's Python alone
	}
	if k.set != nil {
		k.set(&spec.Limits, slow)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if k.cancelAfter != nil {
		t := time.AfterFunc(k.cancelAfter(slow), cancel)
		defer t.Stop()
	}
	r, err := b.Run(rctx, spec)
	if err != nil {
		return "error", "error: " + err.Error()
	}
	if r.Status != k.want {
		return string(r.Status), fmt.Sprintf("status %s (want %s), exit %d, signal %d, error %q, stderr %q",
			r.Status, k.want, r.ExitCode, r.Signal, r.Error, clip(r.Stderr))
	}
	if k.check != nil {
		if err := k.check(r); err != nil {
			return string(r.Status), err.Error()
		}
	}
	return string(r.Status), ""
}

// settle waits up to two seconds for ok to hold: runs end by returning,
// but the goroutines and descriptors of their last moments (a reader that
// sees EOF, an idle connection the client closes) go a moment later.
func settle(ok func() bool) {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !ok(); {
		time.Sleep(20 * time.Millisecond)
	}
}

func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory's own descriptor
}

// Snapshot is what of moat's can be seen on the host at one moment.
type Snapshot map[string]bool

// things lists everything of moat's a run of this process could leave
// behind, each as "what: name". Backends whose tool is missing contribute
// nothing. Other programs' runs are left out where they can be told
// apart: containers are this binary's when they mount its init volume,
// gVisor's bundles and sandboxes when gvisor.Leftovers names them (runs of
// this process that have ended), a cgroup is another's while processes
// without the marker live in it; moat's temporary files go to the soak's
// private TMPDIR, tmp, which is also its working directory.
func things(tmp, marker string) Snapshot {
	s := Snapshot{}
	add := func(what string, names ...string) {
		for _, n := range names {
			if n = strings.TrimSpace(n); n != "" {
				s[what+": "+n] = true
			}
		}
	}
	for _, pat := range []string{"/sys/fs/cgroup/*/moat/moat-*", "/sys/fs/cgroup/moat/moat-*", "/sys/fs/cgroup/*/*/moat/moat-*"} {
		m, _ := filepath.Glob(pat)
		for _, g := range m {
			if !othersLiveIn(g, marker) {
				add("cgroup", g)
			}
		}
	}
	gv := gvisor.Leftovers()
	add("gvisor", gv...)
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) <= 4 || !strings.Contains(f[4], "moat") {
				continue
			}
			// A run's mounts in its gVisor bundle: this process's if
			// its bundle is (a bundle with a mount in it stays).
			if rest, ok := strings.CutPrefix(f[4], "/run/moat/gvisor/"); ok {
				id, _, _ := strings.Cut(rest, "/")
				if !slices.Contains(gv, "bundle "+id) {
					continue
				}
			}
			add("mount", f[4])
		}
	}
	m, _ := filepath.Glob(tmp + "/*")
	add("file", m...)
	vol := initVolume()
	for _, engine := range []string{"docker", "podman"} {
		if _, err := exec.LookPath(engine); err != nil {
			continue
		}
		if vol != "" {
			add(engine+" container", lines(engine, "ps", "--all", "--filter", "label="+runLabel, "--filter", "volume="+vol, "--format", "{{.Names}}")...)
		}
		// Volumes of runs (an image's anonymous VOLUME); the init
		// volumes are moat's cache, one per build.
		for _, v := range lines(engine, "volume", "ls", "--format", "{{.Name}} {{.Labels}}") {
			if !strings.Contains(v, initLabel) {
				add(engine+" volume", v)
			}
		}
	}
	return s
}

// The container backends' label of a run's container and of an init
// volume (backend/internal/container, which the soak cannot import).
const (
	runLabel  = "moat.run"
	initLabel = "moat.init"
)

// initVolume is the init volume of this binary, which the containers of
// its runs mount: "toolcache-" and the first 20 hex digits of the
// binary's SHA-256, as backend/internal/container names it. CheckVolume
// fails a container phase whose engine has no such volume, so that a
// change of that name cannot make the containers' check prove nothing.
var initVolume = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return "toolcache-" + hex.EncodeToString(h.Sum(nil))[:20]
})

// CheckVolume fails unless the engine of a container backend has this
// binary's init volume: without it, its containers cannot be told apart.
func CheckVolume(backend string) error {
	if backend != "docker" && backend != "podman" {
		return nil
	}
	v := initVolume()
	for _, n := range lines(backend, "volume", "ls", "--quiet", "--filter", "label="+initLabel) {
		if n == v {
			return nil
		}
	}
	return fmt.Errorf("%s has no init volume %q of this binary: its containers cannot be told from others'", backend, v)
}

// othersLiveIn reports whether a process without the marker is in the
// cgroup: another program's run that is going on.
func othersLiveIn(group, marker string) bool {
	b, err := os.ReadFile(filepath.Join(group, "cgroup.procs"))
	if err != nil {
		return false
	}
	for _, f := range strings.Fields(string(b)) {
		cmd, err := os.ReadFile("/proc/" + f + "/cmdline")
		if err == nil && !strings.Contains(string(cmd), marker) {
			return true
		}
	}
	return false
}

func lines(name string, args ...string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return nil
	}
	return strings.Split(string(bytes.TrimSpace(out)), "\n")
}

// Leaks compares the host after the soak with before (see things): what
// is new and stays past grace, the processes that carry the marker, and
// this process's children.
func Leaks(before Snapshot, tmp, marker string, grace time.Duration) []string {
	var left []string
	deadline := time.Now().Add(grace)
	for {
		left = left[:0]
		for t := range things(tmp, marker) {
			if !before[t] {
				left = append(left, t)
			}
		}
		for _, p := range procsWith(marker) {
			left = append(left, "process: "+p)
		}
		for _, p := range children() {
			left = append(left, "child process: "+p)
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	sort.Strings(left)
	return left
}

// procsWith describes the host processes whose command line has marker.
func procsWith(marker string) []string {
	var found []string
	forProcs(func(pid int, cmdline, stat string) {
		if strings.Contains(cmdline, marker) {
			found = append(found, fmt.Sprintf("%d %s", pid, clip(cmdline)))
		}
	})
	return found
}

// children describes this process's children, zombies included.
func children() []string {
	self := os.Getpid()
	var found []string
	forProcs(func(pid int, cmdline, stat string) {
		// stat: pid (comm) state ppid ...; comm may hold spaces.
		if i := strings.LastIndexByte(stat, ')'); i > 0 {
			if f := strings.Fields(stat[i+1:]); len(f) > 1 {
				if ppid, _ := strconv.Atoi(f[1]); ppid == self {
					found = append(found, fmt.Sprintf("%d (%s) %s", pid, f[0], clip(cmdline)))
				}
			}
		}
	})
	return found
}

func forProcs(fn func(pid int, cmdline, stat string)) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err1 := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		stat, err2 := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err1 != nil || err2 != nil {
			continue
		}
		fn(pid, strings.ReplaceAll(string(cmd), "\x00", " "), string(stat))
	}
}
