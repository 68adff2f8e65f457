package nsinit

import (
	"encoding/json"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// The parent and the sandbox init talk over inherited pipes at fixed
// descriptors. The init closes-on-exec every one of them before it starts
// the program, so none reaches untrusted code.
const (
	FDConfig  = 3 // parent → init: one Config in JSON, then one Start, then EOF
	FDTarIn   = 4 // parent → init: the workspace as a tar stream
	FDStatus  = 5 // init → parent: JSON messages, one per line
	FDControl = 6 // parent → init: EOF or any byte means "stop now"
	FDTarOut  = 7 // init → parent: the working directory as tar, if asked
	FDProgErr = 8 // the program's stderr; the init's own fd 2 is a
	// diagnostics pipe to the parent, so nothing the init (or a crash of
	// its runtime) prints ever mixes with the program's output
)

// FDNet is a SOCK_SEQPACKET socket between init and parent for the
// network of modes sinkhole and allow (net_linux.go); closed in mode none.
const FDNet = 9

// FDCgroup is the first of Config.CgroupEnter files the init writes
// "0" to, to enter the run's cgroup (cgroup.Entry.Self).
const FDCgroup = 10

// FDProg is the first of the Config.ProgEnter files, then of the
// Config.ProgLeave files (cgroup.Split.ProgFiles): after the at most
// four of FDCgroup.
const FDProg = 16

// The re-executed binary is the sandbox init when its argv[0] is one of
// these. Arg starts it early (package nsinit's init function) with no
// network beyond loopback; ArgNet late, from main through the caller's
// hook (backend/native.Init), with the network packages it needs.
// The parent names it in the environment variable EnvInit instead, so that
// argv[0], pid 1's command line inside, can be a persona's (/sbin/init,
// bash ...): the program cannot read pid 1's environment (non-dumpable).
const (
	Arg     = "moat-sandbox-init"
	ArgNet  = "moat-sandbox-init-net"
	EnvInit = "MOAT_SANDBOX_INIT"
)

// Started reports whether this process was started as the init named
// (Arg or ArgNet), by argv[0] or EnvInit.
func Started(name string) bool {
	return (len(os.Args) > 0 && os.Args[0] == name) || os.Getenv(EnvInit) == name
}

// Network is the sandbox's network beyond loopback.
type Network interface {
	// Stop ends it once the program and all its processes are gone,
	// recording the flows that were still open.
	Stop()
}

// NetworkFunc brings the network of Config.Net up in the init, after lo
// is up and before the root is made read-only; it returns the detail of
// the network-namespace layer.
type NetworkFunc func(cfg json.RawMessage) (Network, string, error)

type noNetwork struct{}

func (noNetwork) Stop() {}

// Paths inside the sandbox. The home is HomeDir unless the config gives
// a persona's.
const (
	WorkDir = "/work"
	HomeDir = "/home/sandbox"
	TmpDir  = "/tmp"
)

// Persona is how the sandbox presents itself inside (observe.Persona):
// the host name, the user and their home. The zero value is moat's
// plain one (moat, sandbox, HomeDir).
type Persona struct {
	Host  string `json:"host,omitempty"`
	User  string `json:"user,omitempty"`
	Gecos string `json:"gecos,omitempty"`
	Home  string `json:"home,omitempty"`
	// Uptime is how far ahead of the host's the program's CLOCK_BOOTTIME
	// and CLOCK_MONOTONIC run (observe.Persona's Uptime; a time
	// namespace, package timens); zero: the host's.
	Uptime time.Duration `json:"uptime,omitempty"`
}

// home is the home directory of this init's run (Main sets it from the
// config before anything uses it).
var home = HomeDir

// hookRoot holds the audit hook (py) and its FIFO (audit): the config's
// ReportConfig.HookRoot, set by Main.
var hookRoot = path.Dir(audit.Dir)

// writable reports whether p is in or above one of the sandbox's writable
// directories (or /dev, /proc), where the hook must never be.
func writable(p string) bool {
	for _, d := range []string{WorkDir, TmpDir, "/home", "/dev", "/proc", "/etc"} {
		if p == d || strings.HasPrefix(p, d+"/") || strings.HasPrefix(d, p+"/") {
			return true
		}
	}
	return false
}

func (p Persona) host() string {
	if p.Host == "" {
		return "moat"
	}
	return p.Host
}

func (p Persona) user() (name, gecos string) {
	if p.User == "" {
		return "sandbox", "moat sandbox"
	}
	return p.User, p.Gecos
}

// Config is everything the init needs to prepare the sandbox, sent first
// over FDConfig. It is produced by the trusted parent; nothing in it comes
// from the program.
//
// The init builds the root, enters the cgroup and brings the network up
// from the Config alone, says "ready" and waits for the [Start] that
// follows it on FDConfig: what to run. Everything from there on (the
// working directory's files, the report's honeytokens and hook, the
// read-only root, capabilities, Landlock, seccomp, rlimits, the program)
// happens after the Start, in the same order for a sandbox started at once
// and for one prepared ahead of its run (backend/native.Prepare), but
// for a [Prestart] one, which does it all before, with the interpreter.
type Config struct {
	Binds []string          `json:"binds"` // host paths bound read-only at the same path
	Links map[string]string `json:"links"` // symlinks to recreate: path → target
	// UID and GID the program runs as inside; the init itself is uid 0.
	UID  int   `json:"uid"`
	GID  int   `json:"gid"`
	Disk int64 `json:"disk"`
	// Rlimits applied to the program as a backstop to cgroups.
	Nproc    uint64 `json:"nproc"`
	AS       uint64 `json:"as,omitempty"` // 0: no address-space cap
	Fsize    uint64 `json:"fsize"`
	HasTarIn bool   `json:"has_tar_in"`
	WantOut  bool   `json:"want_out"`
	OutLim   struct {
		Bytes int64 `json:"bytes"`
		Files int   `json:"files"`
	} `json:"out_lim"`
	// Trace asks the init to report the monotonic time of each setup step.
	Trace bool `json:"trace,omitempty"`
	// AllowDegraded lets setup continue without Landlock or seccomp.
	AllowDegraded bool `json:"allow_degraded"`
	// CgroupEnter is how many files from FDCgroup on the init writes "0"
	// to before anything untrusted starts, to enter the run's cgroup; 0
	// when it was cloned into it (or runs without one).
	CgroupEnter int `json:"cgroup_enter,omitempty"`
	// ProgEnter and ProgLeave are how many files from FDProg on the init
	// writes "0" to from the thread that forks the program: the enter
	// files before (the program is born in its own group, whose memory
	// limit is the run's), the leave files after (the init back in its
	// own, with a reserve the program cannot take). 0: one group for both.
	ProgEnter int `json:"prog_enter,omitempty"`
	ProgLeave int `json:"prog_leave,omitempty"`
	// Reserve is the memory in bytes the init has beside the program's
	// limit; its Go heap is held to a part of it by the environment the
	// parent starts it with (MemLimitEnv). 0: none.
	Reserve int64 `json:"reserve,omitempty"`
	// Net is the network policy of modes sinkhole and allow, for the
	// NetworkFunc of an init started as ArgNet; empty: none.
	Net json.RawMessage `json:"net,omitempty"`
	// Persona: host name, user, home as the program sees them.
	Persona Persona `json:"persona,omitempty"`
	// Report turns on the behaviour report (events_linux.go); nil: off.
	Report *ReportConfig `json:"report,omitempty"`
	// Prestart, when set, has the init go on past "ready" for a sandbox
	// prepared ahead (a warm pool): see [Prestart].
	Prestart *Prestart `json:"prestart,omitempty"`
	// Zygote, when set, has the init go on past the root and network as
	// a zygote's (see [Zygote]) instead of waiting for a Start.
	Zygote *Zygote `json:"zygote,omitempty"`
}

// Zygote is a sandbox whose program is moat's zygote (backend/native's
// zygote.py): the init makes the root read-only and drops its
// capabilities, but applies neither Landlock nor seccomp (the zygote's
// children unshare namespaces and mount, and apply both themselves),
// starts Python on Source with the descriptor FDTarIn (a Unix socket to
// the parent) as its descriptor 3, and reaps until it exits.
type Zygote struct {
	Python string   `json:"python"`
	Source string   `json:"source"`
	Env    []string `json:"env"`
}

// Prestart is a sandbox whose interpreter is started ahead of its run.
// The init does the whole setup of a run (the report's honeytokens and
// hook, the read-only root, capabilities, Landlock, seccomp, rlimits)
// and starts the interpreter running [WarmStub], which blocks reading
// the program from its descriptor 3; then it says "ready". The [Start]
// that follows must be the interpreter's `-c CODE [ARG...]` or
// `SCRIPT [ARG...]`, with no interpreter option and no variable that
// Python reads at startup (the parent checks: backend/native's fits):
// the init writes its files into the working directory and hands the
// argv and environment to the stub, which runs the program as __main__
// as the interpreter would have.
type Prestart struct {
	Python string   `json:"python"` // the interpreter's path inside
	Env    []string `json:"env"`    // its environment until the handover
}

// WarmEnv is set in a prestarted interpreter's environment until the
// handover: the audit hook then sends its "hello" at the handover, with
// the run's own argv.
const WarmEnv = "_PYTHON_PRESTART"

// Start is the second message on FDConfig: the program of the run. A
// sandbox runs exactly one.
type Start struct {
	Argv  []string          `json:"argv"` // argv[0] is the interpreter's path inside (= on the host)
	Env   []string          `json:"env"`
	Files map[string][]byte `json:"files"` // extra files for the working directory
	// StartMono is CLOCK_MONOTONIC at the run's start, the zero of the
	// report's event times; 0 keeps the Config's.
	StartMono int64 `json:"start_mono,omitempty"`
}

// Message is one line on FDStatus.
type Message struct {
	// Kind is "ready" (prepared, waiting for the Start), "layers" (setup
	// done, the program starts; for a [Prestart] sandbox: the program
	// was handed over, and until this message nothing of the run is in the
	// sandbox), "error" (setup failed; Error says where)
	// or "exit" (the program ended).
	Kind     string       `json:"kind"`
	Layers   []moat.Layer `json:"layers,omitempty"`
	Degraded []string     `json:"degraded,omitempty"`
	Error    string       `json:"error,omitempty"`
	// ExecErrno is set when the interpreter could not be executed.
	ExecErrno int   `json:"exec_errno,omitempty"`
	ExitCode  int   `json:"exit_code"`
	Signal    int   `json:"signal,omitempty"`
	MaxRSS    int64 `json:"max_rss,omitempty"` // bytes, of the program's main process
	Stopped   bool  `json:"stopped,omitempty"` // the init killed it on request
	// MonoNS is the CLOCK_MONOTONIC time of a "trace" message.
	MonoNS int64 `json:"mono_ns,omitempty"`
	// Events of an "events" message (sent before "exit"; bounded chunks)
	// and how many the init dropped.
	Events        []moat.Event `json:"events,omitempty"`
	EventsDropped int          `json:"events_dropped,omitempty"`
	// Pyc of a "pyc" message (after the events): one suspect .pyc and
	// its source, whole (observe.Differ.Pycs, within its bounds), for the
	// parent's verification (report.VerifyBytecode).
	Pyc *observe.PycPair `json:"pyc,omitempty"`
	// ListenerFD of a "listener" message: the init's seccomp notification
	// descriptor, for the parent to take with pidfd_getfd and serve.
	ListenerFD int `json:"listener_fd,omitempty"`
}

// MemLimitEnv is the variable the parent puts in the environment of an
// init with a reserve (Config.Reserve): the Go runtime's soft memory
// limit, so that the collector works harder as the heap nears it and the
// scan of a diff full of big files (garbage, mostly) stays inside the
// reserve. The environment, not runtime/debug: importing that would make
// the init initialize after the packages it does not need
// (TestInitStartsEarly). The init unsets it before anything starts.
func MemLimitEnv(reserve int64) string {
	return "GOMEMLIMIT=" + strconv.FormatInt(reserve*5/8, 10)
}
