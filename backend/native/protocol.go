package native

import (
	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/egress"
)

// The parent and the sandbox init talk over inherited pipes at fixed
// descriptors. The init closes-on-exec every one of them before it starts
// the program, so none reaches untrusted code.
const (
	fdConfig  = 3 // parent → init: one initConfig in JSON, then EOF
	fdTarIn   = 4 // parent → init: the workspace as a tar stream
	fdStatus  = 5 // init → parent: JSON messages, one per line
	fdControl = 6 // parent → init: EOF or any byte means "stop now"
	fdTarOut  = 7 // init → parent: the working directory as tar, if asked
	fdProgErr = 8 // the program's stderr; the init's own fd 2 is a
	// diagnostics pipe to the parent, so nothing the init (or a crash of
	// its runtime) prints ever mixes with the program's output
)

// fdNet is a SOCK_SEQPACKET socket between init and parent for the
// network of modes sinkhole and allow (net_linux.go); closed in mode none.
const fdNet = 9

// fdCgroup is the first of initConfig.CgroupEnter files the init writes
// "0" to, to enter the run's cgroup (cgroup.Entry.Self).
const fdCgroup = 10

// argv0Init marks the re-executed binary as the sandbox init.
const argv0Init = "moat-sandbox-init"

// Paths inside the sandbox.
const (
	workDir = "/work"
	homeDir = "/home/sandbox"
	tmpDir  = "/tmp"
)

// initConfig is everything the init needs, sent once over fdConfig. It is
// produced by the trusted parent; nothing in it comes from the program.
type initConfig struct {
	Argv  []string          `json:"argv"` // argv[0] is the interpreter's path inside (= on the host)
	Env   []string          `json:"env"`
	Binds []string          `json:"binds"` // host paths bound read-only at the same path
	Links map[string]string `json:"links"` // symlinks to recreate: path → target
	Files map[string][]byte `json:"files"` // extra files for the working directory
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
	// CgroupEnter is how many files from fdCgroup on the init writes "0"
	// to before anything untrusted starts, to enter the run's cgroup; 0
	// when it was cloned into it (or runs without one).
	CgroupEnter int `json:"cgroup_enter,omitempty"`
	// Net is the network policy of modes sinkhole and allow; nil: none.
	Net *egress.Config `json:"net,omitempty"`
	// Report turns on the behaviour report (events_linux.go); nil: off.
	Report *reportConfig `json:"report,omitempty"`
}

// message is one line on fdStatus.
type message struct {
	// Kind is "layers" (setup done, the program starts), "error" (setup
	// failed; Error says where) or "exit" (the program ended).
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
	// ListenerFD of a "listener" message: the init's seccomp notification
	// descriptor, for the parent to take with pidfd_getfd and serve.
	ListenerFD int `json:"listener_fd,omitempty"`
}
