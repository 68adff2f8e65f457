package nsinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/sandbox/cgroup"
	"github.com/moat-sandbox/moat/internal/sandbox/loginuid"
	"github.com/moat-sandbox/moat/internal/sandbox/netns"
	"github.com/moat-sandbox/moat/internal/sandbox/pid1"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
	"github.com/moat-sandbox/moat/internal/sandbox/timens"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// init runs the sandbox init, when this process was started as one, as
// soon as this package's dependencies are initialized, and exits: the
// packages that sort after it, and those that wait on them (the Docker
// client's, otel, net/http, cobra, html/template: milliseconds of
// package initialization) never run in the init. See the package doc.
func init() {
	if !Started(Arg) {
		return
	}
	runtime.LockOSThread() // init functions run on the main thread, locked; say so
	os.Exit(Main(nil))
}

// Main is pid 1 of the sandbox. It builds the root, applies every layer,
// starts the program, reaps every process, and when the program ends
// kills whatever is left in the namespace before it reports. network
// brings up the network of modes sinkhole and allow; nil for an init
// started as [Arg], which refuses a config that asks for one. Main must
// run on the main thread, locked (runtime.LockOSThread): the namespaces
// joined later, the capability sets, securebits, no_new_privs, Landlock
// and seccomp are per thread, and the program is forked from it.
func Main(network NetworkFunc) int {
	// No descriptor we inherited may reach the program, whatever the
	// caller of moat left open.
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	status := os.NewFile(FDStatus, "status")
	enc := json.NewEncoder(status)
	fail := func(stage string, err error) int {
		_ = enc.Encode(Message{Kind: "error", Error: stage + ": " + err.Error()})
		return 1
	}
	// As pid 1 of a namespace, the kernel delivers only signals the init
	// handles: take all of them (the program may send any), act on none.
	// The two the runtime leaves at their default are ignored once the
	// program runs (pid1.IgnoreDefaults, below).
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	go func() {
		for range sigs {
		}
	}()
	// Non-dumpable: /proc/1 is then owned by root of the namespace and
	// cannot be ptraced or read (e.g. /proc/1/exe, the moat binary).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fail("set non-dumpable", err)
	}
	// pid 1's name (/proc/1/comm) as its argv[0] says, not "exe".
	_ = os.Unsetenv(EnvInit)
	_ = os.Unsetenv("GOMEMLIMIT") // the runtime read it at start (Config.Reserve)
	if len(os.Args) > 0 && os.Args[0] != "" {
		if name, err := unix.BytePtrFromString(path.Base(os.Args[0])); err == nil {
			_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0)
		}
	}
	var cfg Config
	dec := json.NewDecoder(io.LimitReader(os.NewFile(FDConfig, "config"), 256<<20))
	if err := dec.Decode(&cfg); err != nil {
		return fail("read config", err)
	}
	if h := cfg.Persona.Home; h != "" {
		if path.Clean(h) != h || path.Dir(h) != "/home" {
			return fail("read config", fmt.Errorf("persona home %q is not a directory of /home", h))
		}
		home = h
	}
	if cfg.Report != nil && cfg.Report.HookRoot != "" {
		h := cfg.Report.HookRoot
		if path.Clean(h) != h || !path.IsAbs(h) || h == "/" || writable(h) {
			return fail("read config", fmt.Errorf("hook root %q is not a directory of the read-only root", h))
		}
		hookRoot = h
	}
	trace := func(step string) {
		if cfg.Trace {
			_ = enc.Encode(Message{Kind: "trace", Error: step, MonoNS: MonoNow()})
		}
	}
	trace("config read")
	layers, err := setupRoot(&cfg)
	trace("root built")
	if err != nil {
		return fail("root filesystem", err)
	}
	// Into the run's cgroup before anything untrusted starts. On v1 only
	// this thread moves (a whole-process move waits for an RCU grace
	// period): the program is forked from it. A new cgroup namespace then
	// hides the host's cgroup tree.
	if cfg.CgroupEnter > 0 {
		files := make([]*os.File, cfg.CgroupEnter)
		for i := range files {
			files[i] = os.NewFile(uintptr(FDCgroup+i), "cgroup")
		}
		err := cgroup.Enter(files)
		for _, f := range files {
			f.Close()
		}
		if err != nil {
			return fail("enter cgroup", err)
		}
		trace("cgroup entered")
	}
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fail("cgroup namespace", err)
	}
	// The persona's machine has been up for hours or days: what this
	// thread starts from here on (the program, the zygote) runs in a
	// time namespace ahead of the host's by its Uptime. The init stays
	// in the host's (its times are the report's). A kernel without time
	// namespaces shows the host's uptime, as a container does.
	var clock []moat.Layer
	if cfg.Persona.Uptime > 0 {
		switch err := timens.Ahead(cfg.Persona.Uptime); {
		case err == nil:
			clock = []moat.Layer{{Name: "time-namespace", Detail: fmt.Sprintf("boot and monotonic clocks %v ahead of the host's", cfg.Persona.Uptime)}}
		case !errors.Is(err, timens.ErrUnsupported):
			return fail("time namespace", err)
		}
	}
	if err := unix.Sethostname([]byte(cfg.Persona.host())); err != nil {
		return fail("hostname", err)
	}
	// A login session's login uid, for getlogin(); this thread forks the
	// program (or the zygote). Best effort (package loginuid). Also for
	// uid 0 of the sandbox (moat run as an ordinary user): the kernel
	// keeps the host uid it maps to, the moat user's own, which that user
	// could set for itself; the program reads back 0, the persona's.
	_ = loginuid.Set(cfg.UID)
	if err := netns.LoopbackUp(); err != nil {
		return fail("loopback", err)
	}
	var nw Network = noNetwork{}
	netDetail := "none: private loopback only"
	if len(cfg.Net) > 0 {
		if network == nil {
			return fail("network", errors.New("this init was started without network support (the parent must start it as "+ArgNet+")"))
		}
		if nw, netDetail, err = network(cfg.Net); err != nil {
			return fail("network", err)
		}
	}
	layers = append(layers,
		moat.Layer{Name: "user-namespace", Detail: fmt.Sprintf("program uid %d gid %d", cfg.UID, cfg.GID)},
		moat.Layer{Name: "pid-namespace", Detail: "sandbox init is pid 1; every process dies with it"},
		moat.Layer{Name: "network-namespace", Detail: netDetail},
		moat.Layer{Name: "ipc-namespace"}, moat.Layer{Name: "uts-namespace"}, moat.Layer{Name: "cgroup-namespace"},
	)
	layers = append(layers, clock...)
	if cfg.Zygote != nil {
		return zygote(&cfg, enc, layers, nw, trace)
	}
	if cfg.Prestart != nil {
		return prestarted(&cfg, dec, enc, layers, nw, trace)
	}
	// Prepared: nothing of a run is in the sandbox yet. Wait for it.
	_ = enc.Encode(Message{Kind: "ready"})
	var start Start
	if err := dec.Decode(&start); err != nil {
		return fail("read start", err)
	}
	if len(start.Argv) == 0 {
		return fail("read start", errors.New("no program"))
	}
	if cfg.Report != nil && start.StartMono != 0 {
		cfg.Report.StartMono = start.StartMono
	}
	trace("start read")
	// The workspace is written from the program's group: its pages are
	// the program's, as they always were, not the init's reserve.
	place, err := enterProg(&cfg)
	if err != nil {
		return fail("program's place", err)
	}
	defer place.close()
	if stage, err := workspace(&cfg, &start); err != nil {
		return fail(stage, err)
	}
	trace("workspace")
	rep, layers, degraded, stage, err := confine(&cfg, start.Argv[0], layers, enc)
	if err != nil {
		return fail(stage, err)
	}
	trace("caps+landlock")
	cmd, stage, err := startProgram(&cfg, start.Argv, rep.hookEnv(start.Env), nil, enc)
	if err != nil {
		if stage != "" {
			return fail(stage, err)
		}
		return 1
	}
	if err := place.out(); err != nil {
		_ = cmd.Process.Kill()
		return fail("program's place", err)
	}
	trace("program started")
	_ = enc.Encode(Message{Kind: "layers", Layers: layers, Degraded: degraded})
	return supervise(&cfg, cmd.Process.Pid, rep, nw, enc, trace)
}

// zygote is the rest of Main for a [Zygote] sandbox: the read-only root,
// no capabilities, and the zygote's interpreter, reaped to its end.
func zygote(cfg *Config, enc *json.Encoder, layers []moat.Layer, nw Network, trace func(string)) int {
	fail := func(stage string, err error) int {
		_ = enc.Encode(Message{Kind: "error", Error: stage + ": " + err.Error()})
		return 1
	}
	// A /proc of the zygote's own that nothing masks: a child's user
	// namespace may mount a /proc for its PID namespace only where one
	// is fully visible (the kernel's mnt_too_revealing); the child masks
	// its own as setupProc does and covers this one.
	if err := os.Mkdir(ZygoteProc, 0o555); err != nil {
		return fail("zygote proc", err)
	}
	if err := unix.Mount("proc", ZygoteProc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fail("zygote proc", err)
	}
	// With the report, the audit hook and its channel, as a run's: the
	// zygote's interpreter runs the hook from its start, silent to its
	// children's hosts until a child's hello; each child binds a FIFO of
	// its own over the channel (zygote.py). The zygote plants nothing.
	z := cfg.Zygote
	env := z.Env
	if cfg.Report != nil {
		cfg.Report.Files, cfg.Report.Tokens = nil, nil
		rep, err := startReport(cfg, z.Python)
		if err != nil {
			return fail("behaviour report", err)
		}
		env = rep.hookEnv(env)
	}
	if err := finishRoot(); err != nil {
		return fail("root filesystem", err)
	}
	capLayer, err := dropCapabilities()
	if err != nil {
		return fail("capabilities", err)
	}
	sock := os.NewFile(FDTarIn, "zygote")
	cmd, stage, err := startProgram(cfg, []string{z.Python, "-c", z.Source}, env, []*os.File{sock}, enc)
	if err != nil {
		if stage != "" {
			return fail(stage, err)
		}
		return 1
	}
	_ = sock.Close()
	trace("zygote started")
	_ = enc.Encode(Message{Kind: "ready", Layers: append(layers, capLayer)})
	return supervise(cfg, cmd.Process.Pid, nil, nw, enc, trace)
}

// workspace fills the working directory: the workspace's tree, then the
// Start's files. It returns the stage that failed.
func workspace(cfg *Config, start *Start) (string, error) {
	owner := &treecopy.Owner{UID: cfg.UID, GID: cfg.GID}
	if cfg.HasTarIn {
		if _, err := treecopy.Unpack(os.NewFile(FDTarIn, "tarin"), WorkDir, treecopy.Limits{Bytes: cfg.Disk, Files: 1 << 20}, treecopy.Options{Owner: owner, KeepLinks: true, AnyNames: true, Whole: true}); err != nil {
			return "workspace", err
		}
	}
	for name, data := range start.Files {
		if err := writeWorkFile(name, data, owner); err != nil {
			return "file " + name, err
		}
	}
	return "", nil
}

// confine is the part of the setup that follows the working directory:
// the report's honeytokens, hook and "before" picture, the read-only
// root, capabilities, Landlock, seccomp and rlimits. It returns the
// layers in effect, what was degraded, or the stage that failed.
func confine(cfg *Config, python string, layers []moat.Layer, enc *json.Encoder) (*reporter, []moat.Layer, []string, string, error) {
	rep, err := startReport(cfg, python) // honeytokens, audit hook, fs "before"
	if err != nil {
		return nil, nil, nil, "behaviour report", err
	}
	if err := finishRoot(); err != nil {
		return nil, nil, nil, "root filesystem", err
	}
	var degraded []string
	capLayer, err := dropCapabilities()
	if err != nil {
		return nil, nil, nil, "capabilities", err
	}
	layers = append(layers, capLayer)
	if l, err := applyLandlock(); err != nil {
		if !cfg.AllowDegraded {
			return nil, nil, nil, "landlock", err
		}
		degraded = append(degraded, "landlock: "+err.Error())
	} else if l.Name != "" {
		layers = append(layers, l)
	}
	n, err := rep.installSeccomp(seccomp.Install, enc.Encode) // with a listener when the report is on
	if err != nil {
		if !cfg.AllowDegraded {
			return nil, nil, nil, "seccomp", err
		}
		degraded = append(degraded, "seccomp: "+err.Error())
	} else {
		layers = append(layers, moat.Layer{Name: "seccomp", Detail: fmt.Sprintf("%d denied syscall rules; ioctl TIOCSTI/TIOCLINUX denied; socket families unix, inet, inet6, netlink route only", n)})
		layers = append(layers, moat.Layer{Name: "no-new-privs"})
	}
	rl, err := setRlimits(cfg)
	if err != nil {
		return nil, nil, nil, "rlimits", err
	}
	return rep, append(layers, rl), degraded, "", nil
}

// startProgram starts argv as the program (with extra as its descriptors
// from 3 on). A failed start is reported here, with its errno, and
// returns an empty stage; any other failure names its stage.
func startProgram(cfg *Config, argv, env []string, extra []*os.File, enc *json.Encoder) (*exec.Cmd, string, error) {
	cmd := &exec.Cmd{
		Path:       argv[0],
		Args:       argv,
		Env:        env,
		Dir:        WorkDir,
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.NewFile(FDProgErr, "stderr"),
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Setsid:    true, // no controlling terminal
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if cfg.UID != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(cfg.UID), Gid: uint32(cfg.GID), Groups: []uint32{}}
	}
	err := cmd.Start()
	if err == nil && cfg.AS > 0 {
		// RLIMIT_AS would starve the init's own runtime, so it is set on
		// the program alone. Start returns only after the execve, and the
		// interpreter's startup runs no untrusted code, so the limit is in
		// place before the program's first line.
		if perr := unix.Prlimit(cmd.Process.Pid, unix.RLIMIT_AS, &unix.Rlimit{Cur: cfg.AS, Max: cfg.AS}, nil); perr != nil {
			_ = cmd.Process.Kill()
			return nil, "rlimit as", perr
		}
	}
	if err != nil {
		var errno syscall.Errno
		errors.As(err, &errno)
		_ = enc.Encode(Message{Kind: "error", Error: "start program: " + err.Error(), ExecErrno: int(errno)})
		return nil, "", err
	}
	// The signals Go's runtime leaves at their default (32 and 34) could
	// still kill this init on some kernels when the program sends one (see
	// package pid1): ignored from now on. Not before the program started,
	// which must inherit every signal at its default; its startup runs no
	// untrusted code, so nothing of it can send one in between.
	if _, err := pid1.IgnoreDefaults(); err != nil {
		_ = cmd.Process.Kill()
		return nil, "signals", err
	}
	return cmd, "", nil
}

// supervise runs the program (pid main) to its end: it stops everything
// on the parent's word, reaps, and reports the events, the exit and the
// working directory.
func supervise(cfg *Config, main int, rep *reporter, nw Network, enc *json.Encoder, trace func(string)) int {
	ctl := os.NewFile(FDControl, "control")
	var stopped atomic.Bool
	// At the parent's stop (the run's timeout or a limit, the program
	// still running), the daemons are listed before everything is killed:
	// a daemon that outlasts the run rather than the program is named too.
	var stopMu sync.Mutex
	var atStop []survivors.Process
	go func() {
		// Any further byte or EOF on the control pipe: stop everything now.
		var b [1]byte
		_, _ = ctl.Read(b[:])
		if rep != nil {
			ds := listAtStop(main)
			stopMu.Lock()
			atStop = ds
			stopMu.Unlock()
		}
		stopped.Store(true)
		_ = unix.Kill(-1, unix.SIGKILL)
	}()
	var outlived func([]survivors.Process)
	var listed []survivors.Process
	if rep != nil {
		outlived = func(ps []survivors.Process) { listed = ps }
	}
	exit := reap(main, outlived)
	if rep != nil {
		stopMu.Lock()
		if len(listed) == 0 {
			listed = atStop
		}
		stopMu.Unlock()
		rep.outlived(listed)
	}
	trace("program reaped")
	// Every writer of the program's streams is dead: the init's own
	// copies go too, so the parent has all of the output now.
	if null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0); err == nil {
		// Over them, not closed: *os.Files hold these numbers.
		for _, fd := range []int{0, 1, FDProgErr} {
			_ = unix.Dup2(null, fd)
		}
		_ = unix.Close(null)
	}
	exit.Stopped = stopped.Load()
	// The network's last flows are recorded before the report's end.
	nw.Stop()
	rep.finish(enc.Encode) // events: audit, kernel, fs diff
	_ = enc.Encode(exit)
	if cfg.WantOut {
		out := os.NewFile(FDTarOut, "tarout")
		// What Pack leaves out is named in the stream; a stream cut
		// short lacks its end record, which the host reports.
		_ = treecopy.Pack(out, WorkDir, treecopy.Limits{Bytes: cfg.OutLim.Bytes, Files: cfg.OutLim.Files})
		_ = out.Close()
	}
	return 0
}

// prestarted is the rest of Main for a [Prestart] sandbox: the whole
// setup, the interpreter started on the stub, "ready"; then the Start,
// its files, the handover and the run. If the interpreter dies before
// the handover, the init exits without a word: the parent sees a
// sandbox that died while it waited, and runs the Start elsewhere.
func prestarted(cfg *Config, dec *json.Decoder, enc *json.Encoder, layers []moat.Layer, nw Network, trace func(string)) int {
	fail := func(stage string, err error) int {
		_ = enc.Encode(Message{Kind: "error", Error: stage + ": " + err.Error()})
		return 1
	}
	pre := cfg.Prestart
	// The interpreter is the program's process from its birth: started
	// from the program's group (the run's groups were made with the
	// template's limits, before the program was known), and the init
	// back in its own at once; it enters again for the run's workspace
	// alone, as a cold run's init does.
	place, err := enterProg(cfg)
	if err != nil {
		return fail("program's place", err)
	}
	defer place.close()
	rep, layers, degraded, stage, err := confine(cfg, pre.Python, layers, enc)
	if err != nil {
		return fail(stage, err)
	}
	trace("caps+landlock")
	codeR, codeW, err := os.Pipe()
	if err != nil {
		return fail("stub pipe", err)
	}
	rep.untilHello() // the stub's own doings are not the program's
	cmd, stage, err := startProgram(cfg, []string{pre.Python, "-c", WarmStub}, rep.hookEnv(pre.Env), []*os.File{codeR}, enc)
	codeR.Close()
	if err != nil {
		if stage != "" {
			return fail(stage, err)
		}
		return 1
	}
	if err := place.out(); err != nil {
		_ = cmd.Process.Kill()
		return fail("program's place", err)
	}
	pid := cmd.Process.Pid
	// The interpreter dead before its handover: this sandbox is stale.
	var mu sync.Mutex
	handed := false
	go func() {
		var si unix.Siginfo
		for unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
		mu.Lock()
		defer mu.Unlock()
		if !handed {
			os.Exit(3)
		}
	}()
	trace("interpreter started")
	_ = enc.Encode(Message{Kind: "ready"})
	var start Start
	if err := dec.Decode(&start); err != nil {
		return fail("read start", err)
	}
	if len(start.Argv) < 2 {
		return fail("read start", errors.New("no program"))
	}
	if cfg.Report != nil && start.StartMono != 0 {
		cfg.Report.StartMono = start.StartMono
	}
	trace("start read")
	if err := place.in(); err != nil {
		return fail("program's place", err)
	}
	if stage, err := workspace(cfg, &start); err != nil {
		return fail(stage, err)
	}
	if err := place.out(); err != nil {
		return fail("program's place", err)
	}
	if len(start.Files) > 0 {
		rep.rewalk() // the files are the run's, not the program's doing
	}
	trace("workspace")
	mu.Lock()
	if _, err := codeW.Write(warmMessage(start.Argv, rep.hookEnv(start.Env))); err != nil {
		os.Exit(3) // the interpreter died: stale, as above
	}
	handed = true
	mu.Unlock()
	codeW.Close()
	trace("program handed over")
	_ = enc.Encode(Message{Kind: "layers", Layers: layers, Degraded: degraded})
	return supervise(cfg, pid, rep, nw, enc, trace)
}

// reap waits for every child; when the program (pid main) ends it kills
// all that is left in the namespace and keeps reaping until none remain.
// What is left is told to outlived first (nil: not told): a daemon that
// would act after the run, where no report sees it, dies unseen otherwise.
func reap(main int, outlived func([]survivors.Process)) Message {
	m := Message{Kind: "exit"}
	for {
		var ws unix.WaitStatus
		var ru unix.Rusage
		pid, err := unix.Wait4(-1, &ws, 0, &ru)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // ECHILD: nothing left
			return m
		}
		if pid != main {
			continue
		}
		switch {
		case ws.Exited():
			m.ExitCode = ws.ExitStatus()
		case ws.Signaled():
			m.Signal = int(ws.Signal())
		}
		m.MaxRSS = ru.Maxrss * 1024
		if outlived != nil {
			outlived(listOutlived(main))
		}
		// Orphans and daemons die with the program: kill(-1) from pid 1
		// reaches every other process of the namespace.
		_ = unix.Kill(-1, unix.SIGKILL)
	}
}

func writeWorkFile(name string, data []byte, owner *treecopy.Owner) error {
	f, err := os.OpenFile(WorkDir+"/"+name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chown(owner.UID, owner.GID); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// dropCapabilities empties the bounding and ambient sets and locks the
// securebits so that no execve, not even one as uid 0 inside, grants a
// capability again. The init keeps its own effective set (it must kill
// and read the working directory); the program never has one.
func dropCapabilities() (moat.Layer, error) {
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(string(trimNL(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return moat.Layer{}, fmt.Errorf("drop bounding cap %d: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return moat.Layer{}, fmt.Errorf("clear ambient caps: %w", err)
	}
	// securebits(7): NOROOT(0) and its lock(1), KEEP_CAPS lock(5),
	// NO_CAP_AMBIENT_RAISE(6) and its lock(7).
	const bits = 1<<0 | 1<<1 | 1<<5 | 1<<6 | 1<<7
	if err := unix.Prctl(unix.PR_SET_SECUREBITS, bits, 0, 0, 0); err != nil {
		return moat.Layer{}, fmt.Errorf("securebits: %w", err)
	}
	// Inheritable set: clear it, keeping effective and permitted.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return moat.Layer{}, fmt.Errorf("capget: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return moat.Layer{}, fmt.Errorf("capset: %w", err)
	}
	return moat.Layer{Name: "capabilities", Detail: "none: bounding, ambient and inheritable sets empty; securebits noroot locked"}, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// applyLandlock confines the init and, by inheritance, the program: the
// whole (already minimal) root read and execute only, the writable tmpfs
// directories read-write, the device files read-write. A kernel without
// Landlock yields an empty layer and no error; a kernel that has it but
// refuses the ruleset is an error.
func applyLandlock() (moat.Layer, error) {
	abi, err := llsys.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		return moat.Layer{}, nil
	}
	devs := make([]string, len(devices))
	for i, d := range devices {
		devs[i] = "/dev/" + d
	}
	err = landlock.V5.BestEffort().RestrictPaths(
		landlock.RODirs("/"),
		// WithRefer: renames across the writable directories (setuptools
		// builds wheels that way) would otherwise fail with EXDEV.
		landlock.RWDirs(WorkDir, TmpDir, home, "/dev/shm").WithRefer(),
		// ioctl on the terminals (tcgetattr, TIOCGPTN...); on the other
		// devices, which have none that matter, it is harmless.
		landlock.RWFiles(devs...).WithIoctlDev(),
		landlock.RWDirs("/dev/pts").WithIoctlDev(),
		landlock.RWFiles(reportFiles()...), // the audit FIFO, when the report is on
	)
	if err != nil {
		return moat.Layer{}, err
	}
	return moat.Layer{Name: "landlock", Detail: fmt.Sprintf("ABI %d: read-only everywhere but /work /tmp %s /dev/shm", abi, home)}, nil
}

// setRlimits sets the program's rlimits, hard and soft, on the init just
// before it forks the program, which inherits them. They cannot be raised
// again (that takes CAP_SYS_RESOURCE of the host), and the init needs
// none of them raised: it only reaps, kills and packs into a pipe. They
// back the cgroup limits up. RLIMIT_AS, which stands in for the memory
// cgroup when that could not be had, is set on the program after Start.
func setRlimits(cfg *Config) (moat.Layer, error) {
	set := func(res int, v uint64) error {
		return unix.Setrlimit(res, &unix.Rlimit{Cur: v, Max: v})
	}
	detail := fmt.Sprintf("nproc %d, fsize %d, core 0", cfg.Nproc, cfg.Fsize)
	if err := set(unix.RLIMIT_NPROC, cfg.Nproc); err != nil {
		return moat.Layer{}, fmt.Errorf("nproc: %w", err)
	}
	if err := set(unix.RLIMIT_FSIZE, cfg.Fsize); err != nil {
		return moat.Layer{}, fmt.Errorf("fsize: %w", err)
	}
	if err := set(unix.RLIMIT_CORE, 0); err != nil {
		return moat.Layer{}, fmt.Errorf("core: %w", err)
	}
	if cfg.AS > 0 {
		detail += fmt.Sprintf(", as %d (set on the program once started)", cfg.AS)
	}
	return moat.Layer{Name: "rlimits", Detail: detail}, nil
}

func MonoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
