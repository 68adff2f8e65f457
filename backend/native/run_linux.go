package native

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat/backend/internal/outdir"
	"github.com/moat-sandbox/moat/internal/local"
	"github.com/moat-sandbox/moat/internal/termsafe"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
	"github.com/moat-sandbox/moat/internal/sandbox/cgroup"
	"github.com/moat-sandbox/moat/internal/sandbox/nsinit"
	"github.com/moat-sandbox/moat/internal/sandbox/osthread"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
	"github.com/moat-sandbox/moat/internal/transfer/capture"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// hostSandboxID is the host uid and gid the program runs as when moat runs
// as root (nobody/nogroup): never root, never the caller. As an ordinary
// user, the only id that can be mapped is the caller's own; the program
// then runs as uid 0 of its namespace with no capabilities at all.
const (
	hostSandboxID = 65534
	sandboxID     = 1000
)

// initThreads is the slack of the pids limit for the init's own threads.
const initThreads = 16

// initEnv is the environment the init starts with: the name it runs as,
// and its soft memory limit where it has a reserve.
func initEnv(argv0 string, cfg *nsinit.Config) []string {
	env := []string{nsinit.EnvInit + "=" + argv0}
	if cfg != nil && cfg.Reserve > 0 {
		env = append(env, nsinit.MemLimitEnv(cfg.Reserve))
	}
	return env
}

// initReserve is the memory the init has beside the program's limit
// (cgroup.Split): enough for its runtime, the report's events, the walk
// of the writable directories and the bounded reads of the files it
// diffs, after the program has filled its own share (and the tmpfs pages
// it wrote stay charged to that share).
const initReserve = 128 << 20

// stopGrace is how long the init gets to kill, reap and report after a
// stop before the parent kills it (and with it the namespace): the walk
// and scan of the writable directories' diff get observe.FSBudget, which a
// program that filled them up to its memory limit uses whole, and a
// report cut by the parent is lost (an incomplete report).
const stopGrace = observe.FSBudget + 5*time.Second

func run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	r, err := newRunner(spec)
	if err != nil {
		return nil, err
	}
	if err := r.prepare(false); err != nil {
		return r.finishReport(nil, err)
	}
	return r.start(ctx, spec)
}

// newRunner checks spec and resolves its interpreter (and userland).
func newRunner(spec *moat.Spec) (*runner, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	if err := (&Backend{}).Supports(spec); err != nil {
		return nil, err
	}
	if err := check(); err != nil {
		return nil, err
	}
	lim := spec.Limits.WithDefaults()
	rt, err := pyrt.Resolve(spec.Python, os.Getenv("PATH"), local.CacheDir())
	if err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	r := &runner{spec: spec, lim: lim, rt: rt, res: &moat.Result{Isolation: "native"}}
	if spec.Userland {
		ul, err := pyrt.ResolveUserland(local.CacheDir())
		if err != nil {
			return nil, fmt.Errorf("native: %w", err)
		}
		r.rt, r.userland = rt.WithUserland(ul), ul
	}
	return r, nil
}

type runner struct {
	// spec is the template while prepared, the run's own once started.
	spec *moat.Spec
	lim  moat.Limits
	rt   *pyrt.Runtime // with the userland's paths, if any
	res  *moat.Result
	// userland is what Spec.Userland added, or nil.
	userland *pyrt.Userland
	group    cgroup.Group
	split    *cgroup.Split // the program's group within group; nil: one for both
	initName string        // pid 1's argv[0] inside: the persona's
	hookRoot string        // the audit hook's directory: the persona's tools

	mu       sync.Mutex
	reason   moat.Status // why moat stopped the run; "" if it did not
	stopOnce sync.Once
	ctlW     *os.File
	cmd      *exec.Cmd

	events        []moat.Event // the behaviour report (report_linux.go)
	eventsDropped int
	pycs          []observe.PycPair // suspect bytecode for the verification (report_linux.go)
	pycBytes      int64
	sawEvents     bool                 // an "events" message came: the init finished its report
	metadata      *honeytoken.Metadata // served by the sinkhole; nil without one or without a report
	kernelEvents  []moat.Event         // from the seccomp listener (notify_linux.go)
	kernelBudget  kbudget.Budget       // per-kind reserves of kernelEvents
	socks         seccomp.Sockets      // the run's binds, for their listens
	execs         seccomp.ExecCheck    // what each exec ran, confirmed after it
	firstPid      int                  // host pid of the process moat started (Spec.Launcher)
	notifyWG      sync.WaitGroup
	notifyErr     error
	monoZero      atomic.Int64 // mono0, for the listener's goroutine

	// Prepared (prepare) and not yet started (start).
	cfg     *nsinit.Config
	baseEnv []string // the sandbox's own variables, before the Spec's
	planEnv []string // the report's honeytoken variables
	p       *pipes
	nr      *netRun
	extra   []moat.Layer
	begin   time.Time
	mono0   int64
	trace   bool
	ready   bool // prepared ahead: the init said "ready"
	warm    bool // and its interpreter waits for the program (nsinit.Prestart)
	// zygoteSock, set before prepare, makes the sandbox a zygote's
	// (zygote_linux.go): the init's end of the zygote's socket.
	zygoteSock *os.File
	// zygoteHook: the zygote runs the audit hook for its children's
	// reports (zygoteReport).
	zygoteHook bool
	done       chan struct{}  // closed when the run is over (or never was)
	status     *bufio.Scanner // FDStatus, read by prepare up to "ready", then by messages
	exited     chan struct{}  // closed when the init has exited and been reaped
	waitErr    error
	cleanups   []func()
}

// stop ends the run for reason: the first reason wins. The init is asked
// to kill everything and report; if it has not exited after stopGrace it
// is killed, which kills the whole PID namespace.
func (r *runner) stop(reason moat.Status) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.reason = reason
		r.mu.Unlock()
		_, _ = r.ctlW.Write([]byte{1})
		_ = r.ctlW.Close()
		time.AfterFunc(stopGrace, func() { _ = r.cmd.Process.Kill() })
	})
}

func (r *runner) stopReason() moat.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason
}

func (r *runner) initConfig() (*nsinit.Config, error) {
	cfg := &nsinit.Config{
		Binds:         r.rt.Paths,
		Links:         r.rt.Links,
		Disk:          r.lim.Disk,
		Fsize:         uint64(r.lim.Disk),
		Nproc:         uint64(r.lim.Pids),
		HasTarIn:      r.spec.Workspace != "",
		WantOut:       r.spec.OutDir != "",
		AllowDegraded: r.spec.AllowDegraded,
	}
	// The host's public data a CI runner has: service names, and the CA
	// store but under the sinkhole.
	cfg.Binds = append(slices.Clone(cfg.Binds), pyrt.HostData(r.spec.Network != moat.NetworkSinkhole)...)
	cfg.OutLim.Bytes, cfg.OutLim.Files = moat.DefaultOutBytes, moat.DefaultOutFiles
	if os.Geteuid() == 0 {
		cfg.UID, cfg.GID = sandboxID, sandboxID
	} else {
		cfg.Nproc += initThreads // the program shares uid 0 with the init
	}
	// A persona of its own for every run: no cheap tell that this is moat.
	p := observe.NewPersonaFor(r.spec.PersonaKey)
	// The hook goes in the persona's tools directory, in the root's own
	// tmpfs: never in or above a path of the runtime bound from the host.
	p.AvoidPaths(append(slices.Collect(maps.Keys(cfg.Links)), cfg.Binds...))
	cfg.Persona = nsinit.Persona{Host: p.Host, User: p.User, Gecos: p.Gecos, Home: p.Home, Uptime: p.Uptime}
	r.initName, r.hookRoot = p.Init, p.Tools
	r.baseEnv = []string{
		"PATH=" + filepath.Dir(r.rt.Command) + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + p.Home, "TMPDIR=" + nsinit.TmpDir, "LANG=C.UTF-8", "USER=" + p.User, "LOGNAME=" + p.User,
		// Unbuffered: what the program printed before a kill is not lost.
		"PYTHONUNBUFFERED=1",
	}
	return cfg, nil
}

// startMessage is what the prepared init runs: the Spec's program with
// the sandbox's variables, the Spec's, the report's and the network's.
func (r *runner) startMessage(mono int64) *nsinit.Start {
	python := r.rt.Command // a venv's bin/python, so pyvenv.cfg is found
	env := append(append([]string(nil), r.baseEnv...), r.spec.Env...)
	if r.cfg.Report != nil {
		env = append(env, r.planEnv...) // the init adds the hook's PYTHONPATH if it needs one
	}
	if r.nr != nil && r.nr.cfg.Mode == egress.ModeSinkhole {
		env = egress.CAEnv(env)
	}
	return &nsinit.Start{Argv: append([]string{python}, r.spec.Args...), Env: env, Files: r.spec.Files, StartMono: mono}
}

// prepare is the first half of a run: the config and network, the
// cgroup, the init started into its namespaces and sent the Config. With
// wait, it returns once the init is ready for the program (or failed);
// without, the Start may follow at once. On error, what was made is
// undone (r.cleanup).
func (r *runner) prepare(wait bool) (err error) {
	defer func() {
		if err != nil {
			r.cleanup()
		}
	}()
	// The steps' times go to log/slog at debug level (MOAT_TRACE=1 in the
	// CLI); the init sends its own only then.
	r.trace = slog.Default().Enabled(context.Background(), slog.LevelDebug)
	r.begin, r.mono0 = time.Now(), nsinit.MonoNow()
	cfg, err := r.initConfig()
	if err != nil {
		return err
	}
	r.cfg = cfg
	cfg.Trace = r.trace
	r.prepareReport(cfg, r.mono0)
	r.nr, err = startNet(r.spec, cfg, r.mono0, r.metadata) // nil in mode none (net_linux.go)
	if err != nil {
		return fmt.Errorf("native: network: %w", err)
	}
	r.cleanups = append(r.cleanups, r.nr.close)
	r.extra, err = r.limits(cfg)
	if err != nil {
		return err
	}
	if r.group != nil {
		r.cleanups = append(r.cleanups, func() {
			_ = r.group.Destroy()
			r.tr("cgroup destroyed")
		})
	}
	r.tr("cgroup created")
	r.p, err = newPipes(r.spec.Workspace != "", r.spec.OutDir != "")
	if err != nil {
		return fmt.Errorf("native: %w", err)
	}
	r.cleanups = append(r.cleanups, r.p.closeAll)
	r.ctlW = r.p.ctlW
	r.done = make(chan struct{})
	r.monoZero.Store(r.mono0)
	if r.zygoteSock != nil {
		r.p.tarInR = r.zygoteSock
		cfg.Zygote = &nsinit.Zygote{Python: r.rt.Command, Source: zygoteSource, Env: r.startMessage(r.mono0).Env}
		r.zygoteReport(cfg)
	} else if wait && prestartable(r.spec) {
		// The interpreter too, started with the environment of a run of
		// this template; the run's own goes to it at the handover.
		env := r.startMessage(r.mono0).Env
		cfg.Prestart = &nsinit.Prestart{Python: r.rt.Command, Env: append(env, nsinit.WarmEnv+"=1")}
	}
	if err := r.startInit(cfg, r.p, r.nr, r.tr); err != nil {
		return err
	}
	r.exited = make(chan struct{})
	go func() {
		r.waitErr = r.cmd.Wait()
		close(r.exited)
	}()
	r.tr("init started")
	r.status = bufio.NewScanner(r.p.statusR)
	// A "pyc" message holds a .pyc and its source of up to
	// observe.MaxPycFile bytes each, in base64.
	r.status.Buffer(make([]byte, 64<<10), 4<<20)
	if err := json.NewEncoder(r.p.cfgW).Encode(cfg); err != nil {
		return r.lost(fmt.Errorf("native: send config: %w", err))
	}
	r.tr("config sent")
	if !wait {
		return nil
	}
	for r.status.Scan() {
		var m nsinit.Message
		if json.Unmarshal(r.status.Bytes(), &m) != nil {
			continue
		}
		switch m.Kind {
		case "ready":
			r.tr("init ready")
			r.ready, r.warm = true, cfg.Prestart != nil
			return nil
		case "listener": // the prestarted interpreter's execve waits for it
			r.serveNotify(m.ListenerFD, r.done)
		case "trace":
			r.trm(m.MonoNS, "init: "+m.Error)
		case "error":
			return r.lost(fmt.Errorf("native: sandbox setup: %s", termsafe.Line(m.Error, 300)))
		}
	}
	return r.lost(errors.New("native: sandbox init exited before it was ready"))
}

// lost kills the init of a run that cannot go on and returns err.
func (r *runner) lost(err error) error {
	_ = r.cmd.Process.Kill()
	if r.exited != nil {
		<-r.exited
	}
	return err
}

// cleanup undoes prepare, last step first: the init is dead by now.
func (r *runner) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}

func (r *runner) trm(mono int64, what string) {
	if r.trace {
		slog.Debug("step", "backend", "native", "ms", float64(mono-r.mono0)/1e6, "step", what)
	}
}

func (r *runner) tr(what string) { r.trm(nsinit.MonoNow(), what) }

// start is the second half: the program sent to the prepared init, the
// streams, the watchers that stop it, the init's messages, and the
// Result. spec is the run's own; it fits the template (fits).
func (r *runner) start(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	res, err := r.startRun(ctx, spec)
	r.cleanup()
	return r.finishReport(res, err)
}

func (r *runner) startRun(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	r.spec = spec
	r.lim = spec.Limits.WithDefaults()
	if r.ready {
		// Prepared ahead: the run, and the report's times, start now.
		r.begin, r.mono0 = time.Now(), nsinit.MonoNow()
		r.monoZero.Store(r.mono0)
		r.nr.setMono0(r.mono0)
	}
	if r.warm && testHookHandover != nil {
		testHookHandover(r.cmd.Process.Pid)
	}
	// The Start goes before anything of the Spec is touched (its stdin):
	// an init that died while it waited cannot read it, and the Spec may
	// then run elsewhere.
	if err := json.NewEncoder(r.p.cfgW).Encode(r.startMessage(r.mono0)); err != nil {
		_ = r.lost(nil)
		close(r.done)
		r.notifyWG.Wait()
		return nil, fmt.Errorf("native: send the program to the sandbox (%v): %w", err, moat.ErrStale)
	}
	r.p.cfgW.Close()
	r.tr("start sent")
	var m initReport
	if r.warm {
		// Nothing of the Spec is touched until the init took the program
		// ("layers"): one that died first gives it back.
		var ok bool
		if m, ok = r.handedOver(); !ok {
			_ = r.lost(nil)
			close(r.done)
			r.notifyWG.Wait()
			return nil, fmt.Errorf("native: the prepared sandbox died at the handover: %w", moat.ErrStale)
		}
	}
	st := r.startStreams(r.p)
	done := r.done
	defer close(done)
	stopWatch := r.watch(ctx, done)
	defer stopWatch()

	// A prestarted sandbox's Result is final at the init's "exit" (its
	// program and every process are dead, its copies of the streams
	// closed): its own end is waited for by the cleanup (Prepared).
	early := r.warm && r.nr == nil && r.spec.OutDir == ""
	m = r.messages(r.p, m, done, early, r.trm, r.tr)
	r.tr("messages done")
	var waitErr error
	if !early || m.exit == nil {
		<-r.exited
		waitErr = r.waitErr
		r.finishNet(r.nr)
		r.tr("init reaped")
		st.diagWG.Wait()
	}
	r.stopOnce.Do(func() {}) // no stop after the end
	st.wg.Wait()
	r.tr("streams done")
	r.res.DurationMS = time.Since(r.begin).Milliseconds()
	return r.finish(m, st, r.extra, waitErr)
}

// limits makes the run's cgroup (r.group), or, where none can be had and
// the Spec allows it, sets the rlimits that stand in. It returns the
// layers that say which.
func (r *runner) limits(cfg *nsinit.Config) ([]moat.Layer, error) {
	var extra []moat.Layer
	if r.userland != nil {
		extra = append(extra, moat.Layer{Name: "userland", Detail: r.userland.Summary()})
	}
	// Cgroup first: the init is born in it or enters it before it starts
	// the program, so nothing untrusted ever runs outside it.
	// The program's memory limit is its group's (r.split); the run's is
	// that plus the init's reserve, which the program cannot take. A
	// zygote's init runs no program of its own (zygote_linux.go). A
	// prepared or prestarted sandbox (a pool's) has its groups made
	// here, before the program is known: its limits are the template's,
	// which a Spec must match to run in it (Prepared.fits).
	mem, split := r.lim.Memory, r.lim.Memory > 0 && r.zygoteSock == nil
	if split {
		mem += initReserve
	}
	// On v1 and v2 alike (on v2 the init's whole process moves into
	// the program's group and back, cgroup.Split.ProgFiles).
	g, err := cgroup.New("moat-"+local.NewID(), cgroup.Limits{Memory: mem, Pids: r.lim.Pids + initThreads, CPUs: r.lim.CPUs})
	if err == nil && split {
		if r.split, err = cgroup.NewSplit(g, r.lim.Memory); err != nil {
			_ = g.Destroy()
		}
	}
	if err != nil {
		if !r.spec.AllowDegraded {
			return nil, fmt.Errorf("native: %w (pass --allow-degraded to run with rlimits only): %w", err, moat.ErrDegraded)
		}
		r.res.Degraded = append(r.res.Degraded, "cgroups: "+err.Error())
		cfg.AS = uint64(r.lim.Memory)
	} else {
		// The cgroup is the limit; RLIMIT_NPROC stays above it as a
		// backstop, so a breach is seen (and reported) by the cgroup.
		cfg.Nproc += 2 * initThreads
		r.group = g
		reserve := ""
		if r.split != nil {
			cfg.Reserve = initReserve
			reserve = fmt.Sprintf(" (the program's own group; +%d for the init)", initReserve)
		}
		extra = append(extra, moat.Layer{Name: fmt.Sprintf("cgroup-v%d", g.Version()),
			Detail: fmt.Sprintf("%s; memory %d bytes%s, pids %d (+%d for the init), cpus %g", strings.Join(g.Controllers(), ","), r.lim.Memory, reserve, r.lim.Pids, initThreads, r.lim.CPUs)})
	}
	return append(extra,
		moat.Layer{Name: "timeout", Detail: r.lim.Timeout.String()},
		moat.Layer{Name: "output-limit", Detail: fmt.Sprintf("%d bytes per stream", r.lim.OutputLimit)},
	), nil
}

// startInit starts the sandbox init (moat-init or this binary again,
// initBinary) in new user,
// mount, PID, network, IPC and UTS namespaces, inside the run's cgroup,
// with the child ends of p; it sets r.cmd.
func (r *runner) startInit(cfg *nsinit.Config, p *pipes, nr *netRun, tr func(string)) error {
	uid, gid := os.Geteuid(), os.Getegid()
	sys := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
			syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		Setsid:    true,
		Pdeathsig: syscall.SIGKILL, // moat dies, the init dies, the namespace dies
	}
	if uid == 0 {
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}, {ContainerID: sandboxID, HostID: hostSandboxID, Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}, {ContainerID: sandboxID, HostID: hostSandboxID, Size: 1}}
		sys.GidMappingsEnableSetgroups = true
	} else {
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
	}
	var entry *cgroup.Entry
	var progIn, progOut []*os.File
	if r.group != nil {
		var err error
		if r.split != nil {
			entry, err = r.split.InitEntry()
			if err == nil {
				progIn, progOut, err = r.split.ProgFiles()
				cfg.ProgEnter, cfg.ProgLeave = len(progIn), len(progOut)
			}
		} else {
			entry, err = r.group.Entry()
		}
		defer func() {
			for _, f := range append(progIn, progOut...) {
				f.Close()
			}
		}()
		if err != nil {
			entry.Close()
			return fmt.Errorf("native: %w", err)
		}
		defer entry.Close()
	}
	// Without a network the init starts early and light (nsinit.Arg);
	// with one it needs the network packages (nsinit.ArgNet, Init).
	argv0 := nsinit.Arg
	if nr != nil {
		argv0 = nsinit.ArgNet
	}
	bin := initBinary()
	newCmd := func(sys *syscall.SysProcAttr) *exec.Cmd {
		cmd := &exec.Cmd{
			Path:        bin,
			Args:        []string{cmp.Or(r.initName, argv0)},
			Env:         initEnv(argv0, r.cfg),
			Stdin:       p.stdinR,
			Stdout:      p.stdoutW,
			Stderr:      p.diagW,
			ExtraFiles:  []*os.File{p.cfgR, p.tarInR, p.statusW, p.ctlR, p.tarOutW, p.stderrW},
			SysProcAttr: sys,
		}
		cmd.ExtraFiles = nr.files(cmd.ExtraFiles)
		if entry != nil {
			for len(cmd.ExtraFiles) < nsinit.FDCgroup-3 {
				cmd.ExtraFiles = append(cmd.ExtraFiles, nil)
			}
			cmd.ExtraFiles = append(cmd.ExtraFiles, entry.Self...)
		}
		if len(progIn) > 0 {
			for len(cmd.ExtraFiles) < nsinit.FDProg-3 {
				cmd.ExtraFiles = append(cmd.ExtraFiles, nil)
			}
			cmd.ExtraFiles = append(append(cmd.ExtraFiles, progIn...), progOut...)
		}
		return cmd
	}
	// Into the cgroup: born in it (v2: CLONE_INTO_CGROUP) or, where that
	// cannot be, the init enters it itself before anything untrusted runs.
	// Both avoid the parent's whole-process move (AddProc), which waits for
	// an RCU grace period: up to 10 ms on v1.
	cmd := newCmd(sys)
	if entry != nil && entry.Dir != nil {
		into := *sys
		into.UseCgroupFD, into.CgroupFD = true, int(entry.Dir.Fd())
		cmd = newCmd(&into)
		if err := osthread.Start(cmd); err != nil { // Pdeathsig: see osthread.Start
			// clone3 refused (an old kernel, a seccomp profile): enter.
			tr("clone into cgroup failed: " + err.Error())
			cmd = newCmd(sys)
			cfg.CgroupEnter = len(entry.Self)
		}
	} else if entry != nil {
		cfg.CgroupEnter = len(entry.Self)
	}
	r.cmd = cmd
	if cmd.Process == nil {
		if err := osthread.Start(cmd); err != nil { // Pdeathsig: see osthread.Start
			return fmt.Errorf("native: start sandbox: %w", explainStart(err))
		}
	}
	if entry != nil {
		entry.Close() // the init has its own copies
	}
	for _, f := range append(progIn, progOut...) {
		f.Close()
	}
	progIn, progOut = nil, nil
	p.closeChildEnds()
	nr.started()
	return nil
}

// streams are the run's data flows with the init: the program's output,
// the init's diagnostics, the workspace in and the working directory out.
type streams struct {
	wg                   sync.WaitGroup // all but diag
	diagWG               sync.WaitGroup
	stdout, stderr, diag *capture.Stream
	packErr              error // of the workspace, when it failed
	outRep               *treecopy.Report
	outErr               error
}

func (r *runner) startStreams(p *pipes) *streams {
	st := &streams{
		stdout: capture.New(r.spec.Stdout, r.lim.OutputLimit, func() { r.stop(moat.StatusOutputLimit) }),
		stderr: capture.New(r.spec.Stderr, r.lim.OutputLimit, func() { r.stop(moat.StatusOutputLimit) }),
		diag:   capture.New(nil, 8<<10, func() {}),
	}
	st.wg.Add(2)
	st.diagWG.Add(1)
	go func() { defer st.diagWG.Done(); st.diag.Drain(p.diagR) }()
	go func() { defer st.wg.Done(); st.stdout.Drain(p.stdoutR) }()
	go func() { defer st.wg.Done(); st.stderr.Drain(p.stderrR) }()
	if r.spec.Stdin != nil {
		go func() { _, _ = io.Copy(p.stdinW, r.spec.Stdin); p.stdinW.Close() }()
	} else {
		p.stdinW.Close()
	}
	if p.tarInW != nil {
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			st.packErr = treecopy.Pack(p.tarInW, r.spec.Workspace, treecopy.Limits{Bytes: r.lim.Disk, Files: 1 << 20})
			p.tarInW.Close()
		}()
	}
	if p.tarOutR != nil {
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			st.outRep, st.outErr = outdir.Unpack(p.tarOutR, r.spec)
		}()
	}
	return st
}

// watch stops the run at its timeout, when ctx is canceled and when the
// cgroup sees a limit breached, until done is closed. The returned
// function stops the timer.
func (r *runner) watch(ctx context.Context, done <-chan struct{}) func() {
	timer := time.AfterFunc(r.lim.Timeout, func() { r.stop(moat.StatusTimeout) })
	go func() {
		select {
		case <-ctx.Done():
			r.stop(moat.StatusCanceled)
		case <-done:
		}
	}()
	if r.group != nil {
		go r.watchGroup(done)
	}
	return func() { timer.Stop() }
}

// initReport is what the init said: the layers it put in place, how the
// program ended, or why the setup failed.
type initReport struct {
	layers, exit, setupErr *nsinit.Message
}

// testHookHandover, when set (tests), is called with the init's pid as
// the program is handed to a prestarted sandbox, which the pool took.
var testHookHandover func(initPid int)

// handedOver reads the init's messages until it took the program of a
// prestarted sandbox ("layers") or failed ("error"); ok is false when
// the init died first.
func (r *runner) handedOver() (m initReport, ok bool) {
	for r.status.Scan() {
		var msg nsinit.Message
		if json.Unmarshal(r.status.Bytes(), &msg) != nil {
			continue
		}
		switch msg.Kind {
		case "trace":
			r.trm(msg.MonoNS, "init: "+msg.Error)
		case "layers":
			r.tr("message layers")
			m.layers = &msg
			return m, true
		case "error":
			m.setupErr = &msg
			return m, true
		}
	}
	return m, false
}

// messages reads the init's status messages until it closes the pipe,
// or with early until its "exit"; rep holds what was read already.
func (r *runner) messages(p *pipes, rep initReport, done chan struct{}, early bool, trm func(int64, string), tr func(string)) initReport {
	msgs := make(chan nsinit.Message, 4)
	go func() {
		defer close(msgs)
		sc := r.status
		for sc.Scan() {
			var m nsinit.Message
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				msgs <- m
			}
		}
	}()
	for m := range msgs {
		m := m
		if m.Kind == "trace" {
			trm(m.MonoNS, "init: "+m.Error)
			continue
		}
		tr("message " + m.Kind)
		switch m.Kind {
		case "layers":
			rep.layers = &m
		case "exit":
			rep.exit = &m
			if early {
				go func() {
					for range msgs { // the rest, until the init is gone
					}
				}()
				return rep
			}
		case "error":
			rep.setupErr = &m
		case "events":
			r.addEvents(&m)
		case "pyc":
			r.addPyc(m.Pyc)
		case "listener":
			r.serveNotify(m.ListenerFD, done)
		}
	}
	return rep
}

// finish builds the Result from what the init said, the streams, the
// cgroup's counters and how the init process ended.
func (r *runner) finish(m initReport, st *streams, extra []moat.Layer, waitErr error) (*moat.Result, error) {
	res := r.res
	res.Stdout, res.StdoutTruncated = st.stdout.Result()
	res.Stderr, res.StderrTruncated = st.stderr.Result()
	if m.layers != nil {
		res.Layers = append(m.layers.Layers, extra...)
		res.Degraded = append(res.Degraded, m.layers.Degraded...)
	}
	var stats cgroup.Stats
	if r.group != nil {
		stats, _ = r.group.Stats()
		res.MaxRSSBytes = stats.PeakMemory
		if r.split != nil {
			// v1 counts OOM kills where they happened, in the
			// program's group; v2 counts them up the tree too.
			if ps, err := r.split.Prog.Stats(); err == nil && ps.OOMKills != 0 && stats.OOMKills == 0 {
				stats.OOMKills = ps.OOMKills
			}
		}
	}
	if m.exit != nil && res.MaxRSSBytes == 0 {
		res.MaxRSSBytes = m.exit.MaxRSS
	}
	if r.spec.OutDir != "" && st.outRep != nil {
		res.Out = outdir.Report(r.spec, st.outRep, st.outErr)
	}
	e := moat.Ending{Stop: r.stopReason(), OOMKills: stats.OOMKills, PidsHits: stats.PidsMaxHits}
	if m.exit != nil {
		e.Exited, e.ExitCode, e.Signal = true, m.exit.ExitCode, m.exit.Signal
	}
	if m.setupErr != nil {
		e.StartErr, e.StartErrno = "sandbox setup: "+m.setupErr.Error, syscall.Errno(m.setupErr.ExecErrno)
		if st.packErr != nil {
			e.StartErr += " (workspace: " + st.packErr.Error() + ")"
		}
	}
	if m.exit == nil { // the init is gone (startRun waited)
		e.Lost = fmt.Sprintf("sandbox init: %v", waitErr)
		if d, _ := st.diag.Result(); d != "" {
			e.Lost += ": " + termsafe.Line(d, 300)
		}
	}
	return res, e.Classify("native", res)
}

// watchGroup ends the run with the status of a cgroup limit breach.
func (r *runner) watchGroup(done <-chan struct{}) {
	stop := func(b cgroup.Breach) {
		if b == cgroup.BreachMemory {
			r.stop(moat.StatusMemory)
		} else {
			r.stop(moat.StatusPids)
		}
	}
	if r.split != nil {
		// On v1 an OOM kill in the program's group is counted and
		// signalled there alone.
		go cgroup.Watch(r.split.Prog, done, stop)
	}
	cgroup.Watch(r.group, done, stop)
}

// explainStart turns the kernel's refusal to create namespaces into advice.
func explainStart(err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EINVAL) {
		if herr := userNSProblem(); herr != nil {
			return herr
		}
		return fmt.Errorf("%w: the kernel refused to create namespaces (%v); %s", moat.ErrUnavailable, err, userNSHint)
	}
	return err
}
