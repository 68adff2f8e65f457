// Package ctrinit is the container backends' init: pid 1 of a docker,
// podman or gVisor-through-Docker container, run as the sandbox user. It is
// the moat binary itself, from a read-only volume that holds nothing else
// (see backend/internal/container), started as `DIR/entrypoint moat-container-init INIT`,
// DIR a per-run directory where the volume is mounted, INIT the command
// line pid 1 shows (the run's persona: /sbin/init, bash ...).
//
// It speaks the protocol of backend/internal/container over the container's stdin
// and stdout: it reads a [Header] and the workspace tar from stdin, sets up
// the behaviour report, starts the program with stdin inherited (so the
// program's stdin is exact) and its stdout and stderr on pipes, relays them
// as frames on its own stdout, reaps every process, kills everything left
// when the program ends, sends the report's walks and /work back, and ends
// with the exit frame.
//
// Frames are 1 type byte + u32 big-endian length + payload + tag: g (empty:
// the program started; the host's clock for the timeout runs from it, as
// the init's does), o and e (the
// program's stdout and stderr), r (empty: every process of the program is
// dead and its output relayed; what follows is the init's own work), a
// (the audit hook's FIFO, as read), f (the
// JSON of the "before" and "after" walks, in pieces; empty = end), c (a
// run of a changed file's data: see [Content]), P (the compiled hook; see
// Report.Compile), t (tar of /work; empty = end), T (trace marks, with
// MOAT_TRACE), x (the [Exit] JSON, last).
//
// # Frames are authenticated
//
// The program runs as the init's uid. It holds no descriptor of the init's
// output, and the init makes itself non-dumpable, which closes /proc/1/fd
// and ptrace under runc; but not every runtime honours that (gVisor's
// /proc/1/fd/1 opens for a process of the same uid), so the host believes
// no frame for where it came from. Each frame ends with a tag ([Tagger]):
// HMAC-SHA256, under a per-run key, of the frame's sequence number, type,
// length and payload. The key comes in the [Header], which the init reads
// whole before the program exists (what is left of the stream then is the
// program's stdin), and lives on only in the init's memory, which the
// program cannot read (non-dumpable; ptrace and process_vm_readv denied by
// the seccomp profile). A frame the program writes, replays, drops or
// splits with its own bytes fails its tag, and the host ends the run as an
// error, with an evasion finding: never a result.
//
// # Starting early
//
// Like internal/sandbox/nsinit, the init runs from this package's init function,
// before the CLI's heavy dependencies are initialized; its own imports must
// stay light (no net, no regexp).
//
// A Go init costs about 1 ms where the image's python3 running a bootstrap
// script cost some 8 ms (an interpreter start and the script's compile) and
// 3 ms more to fork and exec the program. backend/internal/container keeps that
// script (bootstrap.py, the same protocol) for engines that cannot run this
// binary: another OS or architecture.
package ctrinit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"

	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
)

// Arg, as the first argument, starts the init; ExecArg starts the shim that
// sets RLIMIT_AS and RLIMIT_NPROC (its next two arguments; 0: not set),
// installs the kernel witness's filter or the guard (the third: "-",
// "watch" or "guard"; the listener goes to the init on fd 3) and executes
// the program, the path and argv that follow (a degraded run's memory
// limit, a Pod's pids limit: Go cannot set a limit between fork and exec;
// the filter: see startProgram).
const (
	Arg     = "moat-container-init"
	ExecArg = "moat-container-exec"
)

// Bin is the moat binary's name in the init volume. Dir is where the
// volume is mounted to fill it, Path the binary there; a run mounts it
// where its persona says (a tools directory such a machine might have).
const (
	Bin  = "entrypoint"
	Dir  = "/.moat"
	Path = Dir + "/" + Bin
)

// ReexecEnv, set to ReexecValue in the environment of pid 1, says that
// this process is the init re-executed under its persona's command line
// (argv[0]): pid 1's /proc/1/cmdline and comm then say nothing of moat.
// /proc/1/environ keeps it (a program may read it, under gVisor), so it
// is named as dumb-init's own setting, which a CI container's pid 1 may
// well have, never after moat.
const (
	ReexecEnv   = "DUMB_INIT_SETSID"
	ReexecValue = "0"
)

// FDsEnv, set to "1" in the init's environment, says the protocol comes
// on descriptors of its own, which the engine passed (podman's
// --preserve-fds), not on stdin and stdout: FDControl (the header, the
// workspace, and its end when the host has the exit
// frame), FDFrames (the frames) and FDStdin (the program's stdin). The
// engine's attach, its relays and their latency are out of the way.
const (
	FDsEnv    = "MOAT_INIT_FDS"
	FDControl = 3
	FDFrames  = 4
	FDStdin   = 5
)

// WorkDir is the program's working directory, a tmpfs.
const WorkDir = "/work"

// Header is what the init reads first: u32 length + this as JSON.
type Header struct {
	Key []byte `json:"key"` // KeySize bytes: the frames' tags

	Argv     []string          `json:"argv"`
	Env      []string          `json:"env"`
	Files    map[string]string `json:"files,omitempty"` // hex
	Tar      bool              `json:"tar"`
	Out      bool              `json:"out"`
	OutBytes int64             `json:"out_bytes"`
	OutFiles int               `json:"out_files"`
	TimeoutS float64           `json:"timeout_s"`
	// AfterS, if set, is how long the host lets the init work once the
	// program has ended (the walks, the copy-out), apart from TimeoutS,
	// which is then the program's alone: the init's own backstop follows.
	AfterS float64 `json:"after_s,omitempty"`
	// StopS, if set, is the program's wall clock, kept by the init: StopS
	// after the program started, the init kills it and everything else
	// (Exit.TimedOut says so), then sends the report's walks and /work as
	// after any end. The host stops the container only some seconds
	// later: a program that writes a startup file and hangs must not
	// take the walk that sees it down with it.
	StopS    float64 `json:"stop_s,omitempty"`
	RlimitAS int64   `json:"rlimit_as,omitempty"`
	// Reserve, if set, is memory in bytes the init takes (touched,
	// charged to the container) before the program starts and lets go
	// once the program and all its processes are reaped: the room in
	// which it walks and reads what the program left in the writable
	// tmpfs, whose pages stay charged after their writer died. The
	// container's limit is the program's plus Reserve.
	Reserve int64 `json:"reserve,omitempty"`
	// Pids, if set, is the program's task limit where no cgroup of the
	// run's own holds it (a Kubernetes Pod): the init counts the tasks of
	// every process but itself and, when they reach Pids, kills them and
	// says so (Exit.PidsHit). RlimitNproc, if set, is the program's
	// RLIMIT_NPROC too, the hard bound between two counts (it counts
	// every task of the program's uid, the init's included).
	Pids        int   `json:"pids,omitempty"`
	RlimitNproc int64 `json:"rlimit_nproc,omitempty"`
	// Clone3: before the program starts, the init stacks a filter on the
	// engine's profile that fails clone3 with ENOSYS. The profile does so
	// already (libc then uses clone, whose flags it checks), but gVisor's
	// runsc answers every errno rule of a profile with EPERM, on which
	// glibc's pthread_create gives up: no thread would start. Of two errno
	// answers the newer filter's wins. moat's init only.
	Clone3 bool `json:"clone3_enosys,omitempty"`
	Trace  bool `json:"trace,omitempty"` // send the T frame
	// Guard: the engine's profile lets seccomp.GuardNames through (mount,
	// ptrace, keyctl, bpf, unshare, ...; clone, socket, ioctl, open, fcntl,
	// personality whatever their arguments; clone3, io_uring, openat2), so
	// that the kernel reports them to this init rather than answer them
	// itself. The init installs seccomp.InstallGuard before the program,
	// answers each call it refuses with the errno the profile gave
	// (seccomp.GuardDenied), sends it as a 'k' frame (Call "denied")
	// when the report watches execs, and never starts the program without
	// the filter in place (Exit.Refused, Exit.Unguarded). moat's init only.
	Guard bool `json:"guard,omitempty"`
	// Confined: start the program only under a seccomp filter with
	// no_new_privs, as the init's /proc/self/status shows them (the
	// program inherits both); else the exit frame refuses. A runtime may
	// take the profile and not apply it (runsc without --oci-seccomp).
	Confined bool `json:"confined,omitempty"`
	// Expect, if set, are layers the engine was asked for that a runtime
	// may leave out without failing the container: the init checks each
	// before the program starts, names in Exit.Unmet those not in effect
	// and, with Confined, refuses to start the program.
	Expect *Expect `json:"expect,omitempty"`
	Report *Report `json:"report,omitempty"`
	// CA, if set, is the certificate (PEM) of the run's sinkhole, which
	// the init writes as CAFile, the system trust store, on a tmpfs the
	// engine mounted on its directory, before the program starts.
	CA     []byte `json:"ca,omitempty"`
	CAFile string `json:"ca_file,omitempty"`
	// Work, if set, is the working directory instead of WorkDir: the ssh
	// backend's run directory on a remote host, where bootstrap.py is the
	// init (moat's own init, in containers only, ignores it).
	Work string `json:"work,omitempty"`
}

// Expect lists what the init checks before the program starts (see
// Header.Expect). Each check fails closed: what cannot be read is not in
// effect.
type Expect struct {
	// Sized maps a directory to the most bytes its file system may hold
	// (statfs: blocks times block size): the size-limited volumes asked
	// for /work, /tmp, the home and /dev/shm. gVisor's containerd shim as
	// released puts an unsized tmpfs of its own at /dev/shm in place of a
	// Pod's volume; a directory left on the image's root is not sized
	// either.
	Sized map[string]int64 `json:"sized,omitempty"`
	// LoopbackOnly: no network interface but lo (/proc/self/net/dev).
	LoopbackOnly bool `json:"loopback_only,omitempty"`
	// NonRoot: no uid or gid of the init is 0 (/proc/self/status).
	NonRoot bool `json:"non_root,omitempty"`
	// NoCapabilities: the init's inheritable, permitted, effective,
	// bounding and (where the kernel has it) ambient sets are empty.
	NoCapabilities bool `json:"no_capabilities,omitempty"`
	// ReadOnlyRoot: the mount at / is read-only (its mount options in
	// /proc/self/mountinfo, or statfs's ST_RDONLY; gVisor sets only the
	// former).
	ReadOnlyRoot bool `json:"read_only_root,omitempty"`
}

// Unmet is a layer of Header.Expect that is not in effect: the layer's
// name (as in moat.Result.Layers) and why.
type Unmet struct {
	Layer string `json:"layer"`
	Why   string `json:"why"`
}

// Report tells the init what to set up for the behaviour report.
type Report struct {
	Dir   string            `json:"dir"`
	Hook  string            `json:"hook"`
	Plant map[string]string `json:"plant"`
	// Witness are the planted files whose reads the init watches
	// (observe.Witness); its findings come back in Walks.
	Witness []string `json:"witness,omitempty"`
	// Roots are walked in order, each with its own entry; Dir, when it
	// is found under another root, is left to its own root.
	Roots      []string `json:"roots"`
	MaxEntries int      `json:"max_entries"`
	// MaxDepth bounds how many levels below a root the walk goes (0:
	// none); a deeper tree is walked down to there and said so.
	MaxDepth int `json:"max_depth,omitempty"`
	// MaxWalkBytes bounds each walk's JSON: the walk stops there, and
	// says so (WalkJSON's cuts), rather than pass the host's cap.
	MaxWalkBytes int64 `json:"max_walk_bytes"`
	// ScanTotal bounds the data of the 'c' frames (Content).
	ScanTotal     int64   `json:"scan_total"`
	MaxAuditBytes int64   `json:"max_audit_bytes"`
	BudgetS       float64 `json:"budget_s"`
	// Pyc, if set, is Hook compiled by the image's python3 in an earlier
	// run, for __pycache__/sitecustomize.PycTag.pyc: Python would
	// otherwise compile the hook at every start of every process. Else
	// Compile, if set, is the code the init runs as `python3 -I -S -c
	// Compile FILE` with Hook on stdin, before the program starts (no code
	// of the program has run yet: the result is as trusted as the image),
	// to get it; the output ("TAG\nPYC", or nothing when that fails) goes
	// to the host as the P frame, which keeps it for the next runs.
	PycTag  string `json:"pyc_tag,omitempty"`
	Pyc     []byte `json:"pyc,omitempty"`
	Compile string `json:"compile,omitempty"`
	// Site, if set, is a site directory of the image's python3 on which
	// the engine mounted an empty tmpfs: the init writes Hook there as
	// SiteModule.py (and its bytecode) with the .pth file SitePthName
	// holding SitePth, so Python runs the hook with nothing on
	// PYTHONPATH. Without it the hook is Dir/py/sitecustomize.py, on
	// the PYTHONPATH moat sets.
	Site        string `json:"site,omitempty"`
	SiteModule  string `json:"site_module,omitempty"`
	SitePthName string `json:"site_pth_name,omitempty"`
	SitePth     string `json:"site_pth,omitempty"`
	// SiteDist are the files of the editable install's metadata that
	// goes with the .pth (audit.Dist), by their paths under Site.
	SiteDist map[string]string `json:"site_dist,omitempty"`
	// SiteProbe, if set, is code the init runs as `python3 -I -S -c
	// SiteProbe` before the program; its output (at most MaxSiteProbe
	// bytes) goes to the host as the S frame, which learns from it where
	// the image's site directories are for the next runs.
	SiteProbe string `json:"site_probe,omitempty"`
	// StartupCompile, if set with Site, is code the init runs as
	// `python3 -I -S -c StartupCompile` with StartupLoader on stdin,
	// before the program (audit.StartupCode): the image's encodings
	// package with the hook's loader for -S interpreters appended,
	// compiled; its output (at most MaxStartup bytes) goes to the host as
	// the E frame, which binds it over the image's package in the next
	// runs.
	StartupCompile string `json:"startup_compile,omitempty"`
	StartupLoader  string `json:"startup_loader,omitempty"`
	// Execs asks the init to watch every execve and connect of the
	// container (its own seccomp listener) and send each as a 'k' frame
	// (ExecEvent).
	Execs bool `json:"execs,omitempty"`
}

// Content: a 'c' frame is u64 big-endian offset + path + NUL + data, at
// most ContentChunk bytes of the regular file at path from offset. The
// init sends every new or changed regular file of the after walk, in the
// diff's order (scanorder.Less), its runs of data in order (the holes of
// a sparse file skipped: lseek's SEEK_DATA and SEEK_HOLE), then one frame
// with no data at the offset where the file ended. The host takes the
// bytes between two frames of a file as a hole, and a file whose last
// frame is short of its walked size as not read whole. Over all files
// the init sends at most Report.ScanTotal bytes of data and
// MaxContentFrames frames, and stops at the walk's deadline: the host
// keeps no more either.
const (
	ContentChunk     = 1 << 20
	MaxContentFrames = 1 << 18
)

// Xattrs: an 'X' frame is path + NUL + name + NUL + value, one extended
// attribute of an entry the after walk found new or changed (a file or a
// directory, never a link), sent before the 'c' frames, at most
// xattr.MaxCount an entry and xattr.MaxTotal bytes of names and values
// in all; a frame with an empty name says that what the entry has was
// not all read or sent (the host's search says it was cut).

// MaxSiteProbe bounds the output of Report.SiteProbe.
const MaxSiteProbe = 4096

// MaxStartup bounds the output of Report.StartupCompile.
const MaxStartup = 1 << 20

// Walks is the JSON of the 'f' frames: the "before" and "after" walks
// (entries [path, size, mode, ino, ctime_ns]), why each stopped short of
// the whole tree ("" when it did not), and how many bytes of the audit
// hook's FIFO were not relayed (past MaxAuditBytes).
type Walks[E any] struct {
	Before    []E    `json:"before"`
	After     []E    `json:"after"`
	BeforeCut string `json:"before_cut,omitempty"`
	AfterCut  string `json:"after_cut,omitempty"`
	AuditCut  int64  `json:"audit_cut,omitempty"`
	// The kernel witness of execs (Report.Execs): on, or why it is off,
	// and the events its budget only counted, by kind (kbudget.Budget's
	// Lost; the host bounds them, kbudget.LostKind).
	ExecsOn   bool           `json:"execs_on,omitempty"`
	ExecsOff  string         `json:"execs_off,omitempty"`
	ExecsLost map[string]int `json:"execs_lost,omitempty"`
	// The witness of the planted files: on (the number of files watched)
	// or why not, and the files it saw read and altered.
	WitnessOn  int      `json:"witness_on,omitempty"`
	WitnessOff string   `json:"witness_off,omitempty"`
	Read       []string `json:"read,omitempty"`
	Altered    []string `json:"altered,omitempty"`
	// Outlived: the processes still running when the program ended, which
	// the init then killed (package survivors: bounded where read; the
	// host makes them events with survivors.Events).
	Outlived []survivors.Process `json:"outlived,omitempty"`
}

// KeySize is the length of the frames' key; TagSize of a frame's tag.
const (
	KeySize = 32
	TagSize = 16
)

// Tagger tags the frames of one run, in order: the init tags what it
// sends, the host what it receives.
type Tagger struct {
	mac hash.Hash
	seq uint64
	buf [13]byte
}

// NewTagger returns the tagger of a run's key.
func NewTagger(key []byte) *Tagger { return &Tagger{mac: hmac.New(sha256.New, key)} }

// Tag returns the tag of the next frame, of type t with payload p, and
// appends it to dst.
func (g *Tagger) Tag(dst []byte, t byte, p []byte) []byte {
	binary.BigEndian.PutUint64(g.buf[:8], g.seq)
	g.seq++
	g.buf[8] = t
	binary.BigEndian.PutUint32(g.buf[9:], uint32(len(p)))
	g.mac.Reset()
	g.mac.Write(g.buf[:])
	g.mac.Write(p)
	var sum [sha256.Size]byte
	return append(dst, g.mac.Sum(sum[:0])[:TagSize]...)
}

// Seq is the number of frames tagged so far.
func (g *Tagger) Seq() uint64 { return g.seq }

// Exit is the init's last frame.
type Exit struct {
	// Seccomp and NoNewPrivs are the init's (and so the program's), from
	// /proc/self/status: 2 and 1 when the profile is in effect; -1 unknown.
	Seccomp    int `json:"seccomp"`
	NoNewPrivs int `json:"no_new_privs"`
	// Refused says the program was not started: Header.Confined, and the
	// layers were not in effect (Error says which).
	Refused bool `json:"refused,omitempty"`
	// Guarded: the program ran under the init's guard (Header.Guard);
	// Unguarded: it was refused for want of it.
	Guarded   bool   `json:"guarded,omitempty"`
	Unguarded bool   `json:"unguarded,omitempty"`
	Exit      int    `json:"exit"`
	Signal    int    `json:"signal"`
	MaxRSS    int64  `json:"maxrss"`
	Error     string `json:"error"` // the program could not be started
	Errno     int    `json:"errno"`
	// PidsHit: the program's tasks reached Header.Pids, and the init
	// killed them.
	PidsHit bool `json:"pids_hit,omitempty"`
	// TimedOut: the program ran until Header.StopS, and the init killed it.
	TimedOut bool `json:"timed_out,omitempty"`
	// Checked says the init checked Header.Expect before the program
	// started; Unmet are the layers it found not in effect.
	Checked bool    `json:"checked,omitempty"`
	Unmet   []Unmet `json:"unmet,omitempty"`
}

// ExecEvent is one 'k' frame's JSON: an exec, a connect, or a call the
// guard denied (Header.Guard).
// CallInterpreter is the Call of the one exec frame the init sends
// before the program starts: the interpreter file the program is started
// with (Path) and its SHA256, the report's runtime interpreter.
const CallInterpreter = "interpreter"

type ExecEvent struct {
	PID  int    `json:"pid"`  // the caller's process (thread group) id
	PPID int    `json:"ppid"` // its parent's
	Call string `json:"call"` // execve, execveat, connect, bind, listen or denied; moat.ExecRan or moat.ExecSwapped: what an exec ran (seccomp.ExecCheck)
	// Name, Errno and Args are a denied call's name, the errno it was
	// answered with and its first three arguments.
	Name   string    `json:"name,omitempty"`
	Errno  int       `json:"errno,omitempty"`
	Args   [3]uint64 `json:"args,omitzero"`
	Path   string    `json:"path,omitempty"`
	Argv   string    `json:"argv,omitempty"`
	Failed bool      `json:"failed,omitempty"` // the path names no executable file
	// SHA256 is the hex sha256 of the file the exec runs, opened by the
	// init as the caller's kernel finds it (seccomp.OpenExec): also of a
	// memfd, a file named by a directory descriptor or from a working
	// directory past PATH_MAX. "" where it could not be had.
	SHA256 string `json:"sha256,omitempty"`
	// Script is the file's "#!" line, read with its hash (seccomp.ScriptLine).
	Script string `json:"script,omitempty"`
	// ScriptSHA256 is the hash of the interpreter Script names, opened
	// as the caller's kernel finds it (moat.Event.ScriptSHA256).
	ScriptSHA256 string `json:"script_sha256,omitempty"`
	Note         string `json:"note,omitempty"` // memory unreadable, or the caller died meanwhile
	// Env is an exec's LD_PRELOAD and LD_AUDIT, newline-separated
	// (seccomp.LoaderEnv): code the loader maps into what runs.
	Env string `json:"env,omitempty"`
	// Sockaddr is a connect's or bind's address as the caller's memory
	// held it, at most MaxSockaddr bytes (the host decodes it); a
	// listen's, its socket's bind's (none: not seen bound).
	Sockaddr []byte `json:"sockaddr,omitempty"`
	// Proto and Inode are a bind's or listen's socket (Call "bind",
	// "listen": seccomp.Sockets, sent only where it opens a port): the
	// kernel's name of its protocol ("?" where it could not be read)
	// and its inode.
	Proto string `json:"proto,omitempty"`
	// Stdio names which of an exec's fds 0, 1 and 2 were sockets
	// (seccomp.StdioSockets: moat.Event.Stdio).
	Stdio string `json:"stdio,omitempty"`
	Inode uint64 `json:"inode,omitempty"`
}

// The 'k' frames of one run are within the kernel events' budget
// (kbudget.Budget, as native's): each kind within its reserve, the events
// that would make a finding on their own (kbudget.Interest) kept past it,
// loops counted as repeats; at most kbudget.MaxEvents frames, the rest
// counted by kind (Walks.ExecsLost). A flood of distinct commands, hosts
// or failing execs cannot hide the payload that follows.

// MaxSockaddr bounds ExecEvent.Sockaddr.
const MaxSockaddr = 128
