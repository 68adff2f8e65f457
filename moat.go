// Package moat runs untrusted Python under a choice of isolation backends.
//
// The root package holds the domain types only: a [Spec] says what to run and
// under which limits, a [Backend] runs it, and a [Result] says what happened.
// It imports no backend; backends register themselves with [Register] from an
// init function (import github.com/moat-sandbox/moat/backend/all for every one).
//
// The zero value of every type is the most restrictive choice: a zero Spec has
// no network, the default limits, no environment and no workspace.
//
// A failure of the sandbox itself is an error; whatever the program did
// (exit non-zero, time out, run out of memory) is a Result with a Status.
package moat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors; wrap them with %w and branch with errors.Is.
var (
	// ErrUnavailable: the backend cannot run on this host (missing tool,
	// kernel feature off). Check explains why.
	ErrUnavailable = errors.New("backend unavailable")
	// ErrUnsupported: the Spec asks for something the backend cannot
	// enforce. Backends refuse rather than silently weaken.
	ErrUnsupported = errors.New("not supported by this backend")
	// ErrDegraded: a protection layer that the policy requires cannot be
	// had, and the Spec does not allow running without it.
	ErrDegraded = errors.New("required protection layer unavailable")
	// ErrInvalidSpec: the Spec is malformed.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrNotFound: the program, script or interpreter does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnknownBackend: no backend of that name is registered.
	ErrUnknownBackend = errors.New("unknown isolation backend")
	// ErrMismatch: a Spec does not fit the sandbox prepared for another
	// (Prepared.Run); the sandbox is unused and the Spec may run elsewhere.
	ErrMismatch = errors.New("spec does not fit the prepared sandbox")
	// ErrStale: a prepared sandbox died or was used before the run; the
	// Spec may run elsewhere.
	ErrStale = errors.New("prepared sandbox gone")
)

// Default limits, used where a Limits field is zero.
const (
	DefaultTimeout     = 60 * time.Second
	DefaultMemory      = 512 << 20
	DefaultPids        = 256
	DefaultDisk        = 1 << 30
	DefaultOutputLimit = 16 << 20
	// DefaultOutLimit bounds what --out copies back: total bytes and files.
	DefaultOutBytes = 256 << 20
	DefaultOutFiles = 10000
)

// Network is the network policy of a run. The zero value is NetworkNone.
type Network string

// Network modes.
const (
	// NetworkNone: only a private loopback interface.
	NetworkNone Network = ""
	// NetworkSinkhole: the program sees a network, but nothing leaves the
	// machine: every name resolves to a sink, every connection is accepted
	// by moat, recorded and answered harmlessly.
	NetworkSinkhole Network = "sinkhole"
)

// NetworkAllow is the mode that permits egress only to the listed
// HOST:PORT endpoints; everything else is refused and recorded.
func NetworkAllow(endpoints ...string) Network {
	return Network("allow=" + strings.Join(endpoints, ","))
}

// Endpoints returns the endpoints of an allow mode, or ok=false.
func (n Network) Endpoints() (eps []string, ok bool) {
	rest, ok := strings.CutPrefix(string(n), "allow=")
	if !ok {
		return nil, false
	}
	for _, e := range strings.Split(rest, ",") {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	return eps, true
}

// ParseNetwork reads a mode as the CLI spells it: "none", "sinkhole" or
// "allow=HOST:PORT,...".
func ParseNetwork(s string) (Network, error) {
	switch s {
	case "", "none":
		return NetworkNone, nil
	case "sinkhole":
		return NetworkSinkhole, nil
	}
	n := Network(s)
	eps, ok := n.Endpoints()
	if !ok {
		return "", fmt.Errorf("network mode %q: want none, sinkhole or allow=HOST:PORT,...: %w", s, ErrInvalidSpec)
	}
	if len(eps) == 0 {
		return "", fmt.Errorf("network mode %q: no endpoints: %w", s, ErrInvalidSpec)
	}
	for _, e := range eps {
		host, port, ok := splitHostPort(e)
		if !ok || host == "" {
			return "", fmt.Errorf("network endpoint %q: want HOST:PORT: %w", e, ErrInvalidSpec)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return "", fmt.Errorf("network endpoint %q: bad port: %w", e, ErrInvalidSpec)
		}
	}
	return Network("allow=" + strings.Join(eps, ",")), nil
}

// splitHostPort splits HOST:PORT or [IPv6]:PORT for validation. (The
// net package's SplitHostPort would do, but the root package stays free of
// net: the sandbox init, which starts before the rest of moat's packages
// are initialized, depends on it; see internal/sandbox/nsinit.)
func splitHostPort(e string) (host, port string, ok bool) {
	i := strings.LastIndexByte(e, ':')
	if i < 0 {
		return "", "", false
	}
	host, port = e[:i], e[i+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") || len(host) < 3 {
			return "", "", false
		}
		host = host[1 : len(host)-1]
	} else if strings.ContainsAny(host, "[]:") {
		return "", "", false // an IPv6 address needs brackets
	}
	return host, port, true
}

// Limits bounds the resources of one run. A zero field means the default;
// there is no way to ask for "unlimited".
type Limits struct {
	Timeout     time.Duration // wall clock
	Memory      int64         // bytes, all processes together
	Pids        int           // processes and threads together
	CPUs        float64       // CPU bandwidth in cores; 0 means no CPU cap
	Disk        int64         // bytes of all writable space inside
	OutputLimit int64         // bytes per stream (stdout, stderr)
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	if l.Pids <= 0 {
		l.Pids = DefaultPids
	}
	if l.Disk <= 0 {
		l.Disk = DefaultDisk
	}
	if l.OutputLimit <= 0 {
		l.OutputLimit = DefaultOutputLimit
	}
	return l
}

// Spec describes one run, in the manner of exec.Cmd. Nothing of the host
// environment is inherited: Env is all the program sees besides the
// sandbox's own variables, SandboxEnv.
type Spec struct {
	// Args are the interpreter's arguments: e.g. {"script.py", "a"},
	// {"-c", "print(1)"} or {"-m", "mod"}. The interpreter is prepended.
	Args []string
	// Python is the host interpreter to use; empty means the python3 found
	// on PATH, resolved to the real binary.
	Python string
	// Image is the container image for container backends (docker,
	// podman, gvisor from an image); empty means the backend's default.
	// Backends without images refuse a non-empty Image.
	Image string
	// Env holds KEY=VALUE pairs given to the program.
	Env []string
	// Files are extra files placed in the working directory: a relative
	// name without ".." to its content (e.g. the script to run).
	Files map[string][]byte
	// Workspace is a host directory copied in as the working directory.
	// Empty means an empty working directory.
	Workspace string
	// OutDir, if set, receives the working directory after the run. Links
	// are not followed; sizes are bounded.
	OutDir string
	// OutLinks recreates the program's symlinks in OutDir as symlinks
	// instead of skipping them (nothing is ever written through one). For
	// moat's own staging between runs, e.g. a venv; not for a directory a
	// person will browse.
	OutLinks bool
	// Stdin is the program's standard input; nil means empty.
	Stdin io.Reader
	// Stdout and Stderr, if set, receive the program's output as it comes,
	// up to Limits.OutputLimit each; the Result always holds a capped copy.
	Stdout, Stderr io.Writer
	// Network is the network policy; the zero value is no network.
	Network Network
	Limits  Limits
	// AllowDegraded lets the run go on when a protection layer cannot be
	// had; Result.Layers and Result.Degraded say what was in effect.
	AllowDegraded bool
	// Userland, for the backends that run the host's interpreter (native,
	// gvisor and microvm without an image), also binds (microvm: copies
	// into its read-only image) a small userland of the host read-only: /bin/sh and a fixed set of core utilities (echo, cat, env,
	// sed, grep, ...) with their shared libraries, never a set-uid file,
	// for programs and test suites that shell out. Off, the sandbox has no
	// shell at all. Container images bring their own, so container
	// backends ignore it.
	Userland bool
	// NoReport switches the behaviour report off (no honeytokens, no
	// audit hook, no kernel events, no findings), for measuring its cost.
	// The zero value observes the run.
	NoReport bool
	// PersonaKey, when set, draws the run's persona (host name, user,
	// home, pid 1's name) and its honeytokens from it: the runs given one key look like one
	// machine (the phases of one `moat test`: a package that compares the
	// host name its install saw with its import's finds one machine). It
	// must be moat's secret, random per group of runs; the zero value
	// draws a fresh persona per run. A prepared sandbox fits only a spec
	// with its template's key.
	PersonaKey string
	// Launcher says that Args run a launcher of moat's own (such as
	// `moat test`'s, which changes directory and execs the phase's
	// program): the first exec of the first process is moat's, not the
	// program's, and the behaviour report records it as moat's.
	Launcher bool
}

// SandboxEnv names the variables every backend sets for the program, to
// values of the sandbox (never the host's): PATH, HOME, TMPDIR, LANG, USER,
// LOGNAME, and PYTHONUNBUFFERED=1 so that what the program printed before
// a kill is not lost in a buffer. Spec.Env may override them.
//
// With the behaviour report on, a backend may also set PYTHONPATH (moat's
// audit hook first, then the caller's value) and honeytokens: GITHUB_TOKEN
// and AWS_SECRET_ACCESS_KEY with fresh fake values that are valid nowhere
// (never over a value Spec.Env gives them).
var SandboxEnv = []string{"PATH", "HOME", "TMPDIR", "LANG", "USER", "LOGNAME", "PYTHONUNBUFFERED",
	"PYTHONPATH", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"}

// Backend runs a Spec under one isolation technique.
type Backend interface {
	// Run runs spec to completion. The program's outcome, including a
	// timeout or a limit breach, is the Result; err reports a failure of
	// the sandbox itself. Canceling ctx ends the run with status canceled.
	Run(ctx context.Context, spec *Spec) (*Result, error)
}

// Checker is implemented by backends that can tell whether they work on
// this host; Check returns nil or an error wrapping ErrUnavailable that
// explains what is missing and how to get it.
type Checker interface {
	Check(ctx context.Context) error
}

// Describer is implemented by backends that can say more about what they
// enforce on this host (versions, kernel features), for `moat backends`.
type Describer interface {
	Describe(ctx context.Context) []string
}

// Supporter is implemented by backends that can tell, before running
// anything, whether they can enforce what a Spec asks for (a network mode,
// an image, a host interpreter). Supports returns nil or an error wrapping
// ErrUnsupported that says what cannot be had; [Select] passes over such a
// backend under `auto`, and an explicit choice of it fails with that error.
type Supporter interface {
	Supports(spec *Spec) error
}

// AutoPicker is implemented by backends that work here but that `auto`
// should pass over all the same (a micro-VM under CPU emulation: it
// isolates best but takes seconds per run). AutoPick returns nil, or why
// [Select] passes the backend over under `auto`; naming the backend still
// runs it.
type AutoPicker interface {
	AutoPick(ctx context.Context) error
}

// Preparer is implemented by backends that can prepare a sandbox ahead of
// its run (a warm pool): Prepare does the setup that does not depend on
// the program, for runs like tmpl (its Args, Env, Files, streams, timeout
// and output cap are the run's own), and returns the sandbox waiting.
type Preparer interface {
	Prepare(ctx context.Context, tmpl *Spec) (Prepared, error)
}

// Prepared is a sandbox waiting for its one program. Run runs a Spec that
// fits the template with the same guarantees as Backend.Run (limits,
// report, cleanup); a Spec that does not fit gives ErrMismatch, a sandbox
// that died while waiting ErrStale, and the Spec may then run elsewhere.
// Done is closed once the sandbox is gone; Close destroys an unused one
// and is safe to call at any time.
type Prepared interface {
	Run(ctx context.Context, spec *Spec) (*Result, error)
	Done() <-chan struct{}
	Close() error
}

// Imager is implemented by backends that run a container image: the image
// used when Spec.Image is empty.
type Imager interface {
	DefaultImage() string
}

// Collector is implemented by backends that can leave something behind
// when moat itself is killed (cgroups, containers, bundles, volumes):
// Collect removes what no live run owns and says what it removed.
type Collector interface {
	Collect(ctx context.Context) (removed []string, err error)
}
