// Package container is what the container backends (docker, podman, and
// gVisor through Docker) share: the container's init and the protocol moat
// speaks with it over the container's stdin and stdout, the hardening
// every container gets (user, mounts, masked paths, a seccomp profile
// stricter than the engines' default), reading the container's cgroup, and
// the bookkeeping of a run (Run: why moat stopped it, its timeout, limit
// breaches, and its result).
//
// # Why an init of moat's own
//
// The hardened container has a read-only root and size-limited tmpfs
// mounts for /work, /tmp and the home; engines cannot copy into a tmpfs of
// a container that is not running, and moat mounts no host path. So the
// container's pid 1 is moat's own init (backend/internal/ctrinit), running as the
// sandbox user: it reads a header and the workspace tar from stdin, starts
// the program with stdin inherited (so the program's stdin is exact) and
// its stdout and stderr on pipes, relays them as frames on its own stdout,
// kills everything left when the program ends, sends /work back as a tar,
// and reports the exit status. No exec into the container, no second round
// trip: one attach carries it all.
//
// The init is this very binary, copied once into a volume of the engine
// (InitFor, one per build of moat, mounted read-only at /.moat; no host
// path is mounted). With podman, the protocol runs on pipes of moat's own
// rather than the container's stdin and stdout (SendSplit). Where the engine runs another OS or architecture than
// moat (Docker Desktop from a Mac, say), the image's python3 runs
// bootstrap.py instead: the same protocol, some 10 ms slower per run.
//
// The host believes no frame for where it came from: each is tagged with a
// key of the run that only the init holds (see ctrinit's package doc), so
// a program that gets at the init's output (gVisor honours no
// non-dumpable /proc/1/fd) can only break the run, which then fails as an
// error with an evasion finding. Whatever arrives is parsed with bounds.
package container

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat/internal/termsafe"

	_ "embed"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/backend/internal/outdir"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
	"github.com/moat-sandbox/moat/internal/transfer/capture"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
	moatreport "github.com/moat-sandbox/moat/report"
)

//go:embed bootstrap.py
var bootstrap string

// Entrypoint is the container's command: moat's init from the init volume
// (see InitFor), or, when goInit is false, the image's python3,
// isolated from the environment and site, running bootstrap.py.
func Entrypoint(goInit bool, p Persona) []string {
	if goInit {
		return []string{p.InitPath(), ctrinit.Arg, p.Init}
	}
	return []string{"python3", "-I", "-S", "-c", entrySource()}
}

// IsEntrypoint says whether a container's command (its OCI process args,
// as an engine's runtime records them) is one of Entrypoint's: a
// container of moat.
func IsEntrypoint(args []string) bool {
	switch len(args) {
	case 3:
		return args[1] == ctrinit.Arg || args[1] == SinkHelperArg && args[2] == SinkHelperHere
	case 5:
		return slices.Equal(args, Entrypoint(false, Persona{}))
	}
	return false
}

// lateMark starts the part of the bootstrap that runs once the program
// has started.
const lateMark = "\n# --- late:"

// entrySource is the bootstrap as the -c argument: its late part as a
// string literal that the bootstrap compiles (and runs, in the same
// globals) only after the program has started. Python compiles -c code at
// every start, about 3ms for the whole bootstrap in a container; the late
// half then compiles on the side, while the program's interpreter starts.
var entrySource = sync.OnceValue(func() string {
	early, late, ok := strings.Cut(bootstrap, lateMark)
	if !ok {
		return bootstrap
	}
	// strconv.Quote of ASCII text is a valid Python string literal (the
	// test checks that the bootstrap is ASCII and that both parts compile).
	return early + "\nexec(compile(" + strconv.Quote(lateMark[1:]+late) + ", '<bootstrap-late>', 'exec'))\n"
})

// Exit is the init's last frame.
type Exit = ctrinit.Exit

// maxFrame bounds one frame; the init sends at most 1MiB.
const maxFrame = 4 << 20

// Session is one run of the protocol. Send and Receive run concurrently;
// Stop is called (once per reason, the first wins in the backend) when the
// output cap is reached.
type Session struct {
	// Daemons, if set, gives the daemons the host listed where it ended
	// the run itself at the pids limit (Run.Daemons): reported when the
	// init sent no list of its own.
	Daemons func() []survivors.Process
	// KillNote, if set, says why moat killed the whole container where
	// it meant to kill only the program's processes (Run.KillNote): the
	// cause of a report cut short, said in its finding.
	KillNote func() string
	// OnExit, if set, runs when the exit frame arrives and before the
	// container's stdin is closed (which lets the init exit): the
	// moment to read the cgroup while the container still exists.
	OnExit func()
	// RlimitAS, if set, is the program's RLIMIT_AS, set by the init
	// just before exec (a degraded run's memory limit: set by the engine,
	// it would bind the runtime's own init too).
	RlimitAS int64
	// Reserve, if set, is memory the init holds until the program is
	// reaped (ctrinit.Header.Reserve); the container's limit must have it
	// beyond the program's (InitReserve).
	Reserve int64
	// Pids, if set, has the init end the run (status pids) when the
	// program's tasks reach it, and RlimitNproc, if set, is the program's
	// RLIMIT_NPROC: the pids limit where no cgroup of the run's own holds
	// it (see ctrinit.Header).
	Pids        int
	RlimitNproc int64
	// Clone3ENOSYS has moat's init fail the program's clone3 with ENOSYS
	// (ctrinit.Header): for runtimes that answer the profile's ENOSYS
	// with EPERM (gVisor's runsc), which stops every thread from starting.
	Clone3ENOSYS bool
	// AfterProgram, if set, is the bound of the init's work after the
	// program (Run.SuperviseProgram): the init's own backstop then
	// follows it rather than the timeout. moat's init only.
	AfterProgram time.Duration
	// Trace, if set, records when the frames that mark the run arrive.
	Trace *Trace
	// Bytecode, if set, keeps the audit hook compiled by the image's
	// python3 between runs; only moat's init uses it (bootstrap.py
	// compiles the hook at every run).
	Bytecode *HookBytecode
	// Verify, if set, runs a spec in a fresh container of the backend and
	// the run's image: the verification of the run's suspect bytecode
	// (moatreport.VerifyBytecode). Unset: every suspect stays high, not
	// verified.
	Verify moatreport.RunFunc
	// Site, if set, is where the image's python3 runs the hook from
	// (HookSite; the engine mounts its tmpfs); only moat's init uses it.
	// nil: the hook goes on PYTHONPATH.
	// Startup, if set, learns the image's encodings package with the
	// hook's loader for -S interpreters (HookStartup); the backend binds
	// what it knew over the image's.
	Startup *HookStartup
	Site    *HookSite
	// KernelExecs asks the init to watch every execve in the container
	// with a seccomp listener of its own (ctrinit.ExecEvent); only moat's
	// init does.
	KernelExecs bool
	// SinkEnter, if set, makes a command that runs in the user namespace
	// owning the containers' network namespaces (rootless podman's
	// `podman unshare`): a moat without root serves the sinkhole through
	// it (SinkHelperArg).
	SinkEnter func(args ...string) *exec.Cmd
	// Guard: the container runs under GuardedProfile, and the init must
	// guard the calls it lets through (ctrinit.Header.Guard); only moat's
	// init does, and only where the runtime has seccomp user notification
	// (not gVisor's Sentry).
	Guard bool
	// Host, if set, runs bootstrap.py on a host of its own rather than in
	// a container (the ssh backend): see HostInit.
	Host *HostInit
	// Expect, if set, are layers the init checks before the program
	// starts (ctrinit.Expect): one not in effect refuses the run
	// (moat.ErrDegraded, the program never started) unless the Spec
	// allows a degraded run, which then lists it in Result.Degraded.
	Expect *ctrinit.Expect

	spec *moat.Spec
	lim  moat.Limits
	key  []byte // the frames' tags (ctrinit.Tagger)
	sink *Sink  // the sinkhole, once StartSink brought it up

	persona Persona

	violation error  // the protocol violation Receive returned, if any
	lost      string // InitKilled's account

	stdout, stderr *capture.Stream
	exited         chan struct{}
	reaped         chan struct{} // closed at the first frame sent after the program's end
	started        chan struct{} // closed at the init's started frame
	reapOnce       sync.Once
	ended          chan struct{} // closed by Report: the run is over
	endOnce        sync.Once
	exitOnce       sync.Once
	exit           *Exit

	rep   *report // the behaviour report; nil when off
	start time.Time

	sawOutput                  bool
	askedBytecode, sawBytecode bool

	outRep  *treecopy.Report
	outErr  error
	outDone chan struct{}
	packErr error
}

// NewSession prepares a run of spec under lim; stop is called when an
// output stream goes past its cap.
func NewSession(spec *moat.Spec, lim moat.Limits, p Persona, stop func(moat.Status)) *Session {
	return newSession(spec, lim, p, nil, stop)
}

// NewHostSession is NewSession for bootstrap.py on a host of its own (h,
// which it sets as Session.Host): the report's walk and identity take the
// host's working directory and the persona's home (the host user's, which
// the backend hides behind the run's own), and say that no kernel witness
// is there (HostInit.NoKernel).
func NewHostSession(spec *moat.Spec, lim moat.Limits, p Persona, h *HostInit, stop func(moat.Status)) *Session {
	s := newSession(spec, lim, p, h, stop)
	s.Host = h
	return s
}

func newSession(spec *moat.Spec, lim moat.Limits, p Persona, h *HostInit, stop func(moat.Status)) *Session {
	s := &Session{spec: spec, lim: lim, persona: p, exited: make(chan struct{}), reaped: make(chan struct{}), started: make(chan struct{}), ended: make(chan struct{}), start: time.Now()}
	s.key = make([]byte, ctrinit.KeySize)
	_, _ = rand.Read(s.key) // never fails (crypto/rand)
	s.rep = newReport(spec, s.start, p, h)
	s.stdout = capture.New(spec.Stdout, lim.OutputLimit, func() { stop(moat.StatusOutputLimit) })
	s.stderr = capture.New(spec.Stderr, lim.OutputLimit, func() { stop(moat.StatusOutputLimit) })
	return s
}

// OnSentry tells the report that the container runs on gVisor's Sentry
// (runsc as the engine's runtime): its own tmpfs, where the init plants
// the honeytokens, moves no access time when a file is mapped, so the
// witness layer says that reads through mmap rest on the audit hook.
func (s *Session) OnSentry() {
	if s.rep != nil {
		s.rep.blind = "not reads through mmap (gVisor's own tmpfs moves no access time on mmap: those rest on the audit hook)"
	}
}

// Sinkhole says whether the run's network is the sinkhole: the backend
// then mounts TrustMount and calls StartSink once the container's init
// runs and before Send.
func (s *Session) Sinkhole() bool { return s.spec.Network == moat.NetworkSinkhole }

// StartSink brings up the run's sinkhole in the network namespace of the
// container whose init is pid on this host (see sink_linux.go). The
// report's sink events are the session's from then on.
func (s *Session) StartSink(pid int) error {
	var md *honeytoken.Metadata
	if s.rep != nil {
		md = s.rep.metadata
	}
	sk, err := startSink(pid, md, s.start, s.SinkEnter)
	if err != nil {
		return fmt.Errorf("sinkhole: %w", err)
	}
	s.sink = sk
	return nil
}

// StartSinkVia brings up the run's sinkhole through a helper that start
// starts on the container's network namespace (a container of its own:
// see container.StartSinkVia). The report's sink events are the
// session's from then on.
func (s *Session) StartSinkVia(start func() (*SinkProc, error)) error {
	var md *honeytoken.Metadata
	if s.rep != nil {
		md = s.rep.metadata
	}
	sk, err := StartSinkVia(start, md, s.start)
	if err != nil {
		return fmt.Errorf("sinkhole: %w", err)
	}
	s.sink = sk
	return nil
}

// Env is the program's environment: the sandbox's own variables, then
// Spec.Env (later entries win in the init's environment).
func Env(spec *moat.Spec, p Persona) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + p.Home, "TMPDIR=/tmp", "LANG=C.UTF-8", "USER=" + p.User, "LOGNAME=" + p.User,
		"PYTHONUNBUFFERED=1",
	}
	return append(env, spec.Env...)
}

// HostInit says how bootstrap.py runs on a host that is no container:
// the ssh backend's remote host, where it is pid 1 of a PID namespace of
// its own (so its kill(-1) reaches the run's processes only) and no
// seccomp profile is applied, so the header asks for none.
type HostInit struct {
	// Work is the program's working directory there.
	Work string
	// Launcher runs the program: it precedes the program's arguments, and
	// ends with the interpreter (e.g. unshare ... -- python3).
	Launcher []string
	// NoKernel says why the report has no kernel witness there (its
	// kernel-events-unavailable event); bootstrap.py has none to offer.
	NoKernel string
}

func (h *HostInit) launcher() []string {
	if h == nil || len(h.Launcher) == 0 {
		return []string{"python3"}
	}
	return h.Launcher
}

func (h *HostInit) work() string {
	if h == nil {
		return ""
	}
	return h.Work
}

// BootstrapSource is bootstrap.py as the argument of python3 -I -S -c
// (see Entrypoint).
func BootstrapSource() string { return entrySource() }

// headerJSON returns the header as JSON.
func (s *Session) headerJSON() ([]byte, error) {
	env := Env(s.spec, s.persona)
	var rh *ctrinit.Report
	if s.rep != nil {
		if s.Site != nil {
			s.rep.site = s.Site.Dir
		}
		s.rep.execs = s.KernelExecs
		rh = s.rep.header()
		env = append(env, s.rep.plan.Env...)
		if !s.Site.fill(rh, s.rep.dir+"/audit") {
			env = observe.WithHookPath(env, s.rep.dir+"/py")
		}
		s.Bytecode.fill(rh)
		s.Startup.fill(rh)
		s.askedBytecode = rh.Compile != ""
		if rh.Site != "" {
			// The editable install's metadata beside its .pth; the
			// bytecode's tag as the site directory's path says when the
			// init is to compile it.
			tag := rh.PycTag
			if tag == "" && rh.Compile != "" {
				tag = audit.CacheTag(rh.Site)
			}
			rh.SiteDist = audit.Dist(rh.SitePth, rh.Hook, tag)
		}
	}
	var ca []byte
	caFile := ""
	if s.Sinkhole() {
		if s.sink == nil {
			return nil, errors.New("the sinkhole was not started")
		}
		env = egress.CAEnv(env)
		ca, caFile = s.sink.CAPEM(), egress.CAFile
	}
	h := ctrinit.Header{
		CA:          ca,
		CAFile:      caFile,
		Key:         s.key,
		Argv:        append(s.Host.launcher(), s.spec.Args...),
		Env:         env,
		Report:      rh,
		Tar:         s.spec.Workspace != "",
		Out:         s.spec.OutDir != "",
		OutBytes:    moat.DefaultOutBytes,
		OutFiles:    moat.DefaultOutFiles,
		TimeoutS:    s.lim.Timeout.Seconds(),
		StopS:       s.lim.Timeout.Seconds(),
		AfterS:      s.AfterProgram.Seconds(),
		RlimitAS:    s.RlimitAS,
		Reserve:     s.Reserve,
		Pids:        s.Pids,
		RlimitNproc: s.RlimitNproc,
		Clone3:      s.Clone3ENOSYS,
		Guard:       s.Guard,
		Trace:       s.Trace != nil,
		Confined:    !s.spec.AllowDegraded && s.Host == nil,
		Expect:      s.Expect,
		Work:        s.Host.work(),
	}
	if len(s.spec.Files) > 0 {
		h.Files = map[string]string{}
		for k, v := range s.spec.Files {
			h.Files[k] = hex.EncodeToString(v)
		}
	}
	return json.Marshal(h)
}

// Send writes the header, the workspace and the program's stdin to w, the
// container's stdin. closeW ends the stdin (half-close); it is called when
// Spec.Stdin is exhausted, or as soon as the program has exited, whichever
// comes first. Send returns when the header and workspace are written; the
// stdin copy goes on in the background.
func (s *Session) Send(w io.Writer, closeW func()) error {
	var once sync.Once
	c := func() { once.Do(closeW) }
	return s.send(w, c, w, c)
}

// SendSplit is Send for an init that takes the program's stdin apart from
// the protocol (ctrinit.FDsEnv): ctl gets the header and the workspace, and
// is ended (closeCtl) once the exit frame is in; stdin gets Spec.Stdin, and
// is ended at its end or the program's.
func (s *Session) SendSplit(ctl io.Writer, closeCtl func(), stdin io.Writer, closeStdin func()) error {
	var o1, o2 sync.Once
	return s.send(ctl, func() { o1.Do(closeCtl) }, stdin, func() { o2.Do(closeStdin) })
}

func (s *Session) send(ctl io.Writer, closeCtl func(), stdin io.Writer, closeStdin func()) error {
	// The header as the init reads it: u32 length + JSON.
	b, err := s.headerJSON()
	if err != nil {
		return err
	}
	if _, err := ctl.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)); err != nil {
		return fmt.Errorf("send header: %w", err)
	}
	if s.spec.Workspace != "" {
		cw := &chunkWriter{w: ctl}
		s.packErr = treecopy.Pack(cw, s.spec.Workspace, treecopy.Limits{Bytes: s.lim.Disk, Files: 1 << 20})
		if err := cw.end(); err != nil {
			return fmt.Errorf("send workspace: %w", err)
		}
		if s.packErr != nil {
			return fmt.Errorf("workspace: %w", s.packErr)
		}
	}
	go func() {
		select {
		case <-s.exited:
		case <-s.ended: // no exit frame will come
		}
		closeStdin()
		closeCtl()
	}()
	if s.spec.Stdin == nil {
		closeStdin()
		return nil
	}
	go func() {
		_, _ = io.Copy(stdin, s.spec.Stdin)
		closeStdin()
	}()
	return nil
}

// chunkWriter frames the workspace tar: u32 length + bytes, and an empty
// chunk at the end.
type chunkWriter struct{ w io.Writer }

func (c *chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if _, err := c.w.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p)))); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func (c *chunkWriter) end() error {
	_, err := c.w.Write([]byte{0, 0, 0, 0})
	return err
}

// Exited is closed when the init reported the program's end.
func (s *Session) Exited() <-chan struct{} { return s.exited }

// Started is closed when the init said it started the program (the
// started frame, tagged: the program cannot send it), from which the
// init keeps the program's wall clock (ctrinit.Header.StopS).
func (s *Session) Started() <-chan struct{} { return s.started }

// Reaped is closed at the first frame the init sends only once the
// program has ended and its output is drained (the reaped frame, the
// report's walks and changed files, the copy-out, the exit frame): what follows is the
// init's own work, not the program's. The frame is tagged: the program
// cannot send it.
func (s *Session) Reaped() <-chan struct{} { return s.reaped }

// ErrProtocol: the container's stdout did not follow the protocol.
var ErrProtocol = errors.New("container: init protocol violated")

// Receive reads the init's frames from r until EOF. It returns nil at
// a clean EOF (with or without an exit frame: the container may have been
// killed) and ErrProtocol for garbage: a frame that is malformed or fails
// its tag (see ctrinit's package doc), which also makes an evasion finding
// of the report (Session.Report). Nothing of a frame is used before its
// tag is checked.
func (s *Session) Receive(r io.Reader) error {
	err := s.receive(r)
	if errors.Is(err, ErrProtocol) {
		s.violation = err
	}
	return err
}

func (s *Session) receive(r io.Reader) error {
	var tarW *io.PipeWriter
	defer func() {
		if tarW != nil {
			tarW.CloseWithError(io.ErrUnexpectedEOF)
			<-s.outDone
		}
	}()
	tags := ctrinit.NewTagger(s.key)
	var hdr [5]byte
	var buf []byte
	for {
		// A stream that ends inside a frame was cut: the container was
		// killed (by moat, at a limit, or by the program, which then
		// leaves no exit frame). Nothing of the cut frame is used, and
		// nothing can follow an exit frame: the init sends it once every
		// other process is dead.
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil
		}
		n := int64(binary.BigEndian.Uint32(hdr[1:]))
		if n > maxFrame {
			return fmt.Errorf("%w: frame %d of %d bytes (not moat's init: the stream was written into)", ErrProtocol, tags.Seq(), n)
		}
		if int64(cap(buf)) < n+ctrinit.TagSize {
			buf = make([]byte, n+ctrinit.TagSize)
		}
		frame := buf[:n+ctrinit.TagSize]
		if _, err := io.ReadFull(r, frame); err != nil {
			return nil // cut, as above
		}
		body, tag := frame[:n], frame[n:]
		seq := tags.Seq()
		var want [ctrinit.TagSize]byte
		if !hmac.Equal(tags.Tag(want[:0], hdr[0], body), tag) {
			return fmt.Errorf("%w: frame %d (type %q, %d bytes) fails its tag: something other than moat's init wrote to its output", ErrProtocol, seq, hdr[0], n)
		}
		switch hdr[0] {
		case 'r', 'f', 'c', 't', 'x':
			s.reapOnce.Do(func() { close(s.reaped) })
		}
		switch hdr[0] {
		case 'g':
			select {
			case <-s.started:
				return fmt.Errorf("%w: a second started frame", ErrProtocol)
			default:
			}
			if n != 0 {
				return fmt.Errorf("%w: a started frame of %d bytes", ErrProtocol, n)
			}
			s.Trace.Step("started frame")
			close(s.started)
		case 'r':
			if n != 0 {
				return fmt.Errorf("%w: a reaped frame of %d bytes", ErrProtocol, n)
			}
		case 'o', 'e':
			if !s.sawOutput {
				s.sawOutput = true
				s.Trace.Step("first output frame")
			}
			c := s.stdout
			if hdr[0] == 'e' {
				c = s.stderr
			}
			c.Add(body)
		case 't':
			if s.spec.OutDir == "" {
				continue
			}
			if tarW == nil && s.outDone == nil {
				pr, pw := io.Pipe()
				tarW = pw
				s.outDone = make(chan struct{})
				go func() {
					defer close(s.outDone)
					s.outRep, s.outErr = outdir.Unpack(pr, s.spec)
				}()
			}
			if n == 0 {
				if tarW != nil {
					tarW.Close()
					<-s.outDone
					tarW = nil
				}
				continue
			}
			if tarW != nil {
				if _, err := tarW.Write(body); err != nil {
					return err
				}
			}
		case 'x':
			var e Exit
			if err := json.Unmarshal(body, &e); err != nil {
				return fmt.Errorf("%w: exit report %q", ErrProtocol, termsafe.Line(string(body), 300))
			}
			if s.ExitReport() != nil {
				return fmt.Errorf("%w: a second exit frame", ErrProtocol)
			}
			s.exitOnce.Do(func() {
				s.Trace.Step("exit frame")
				if s.OnExit != nil {
					s.OnExit()
				}
				s.exit = &e
				close(s.exited)
			})
		case 'T':
			if s.Trace == nil {
				return fmt.Errorf("%w: trace frame without MOAT_TRACE", ErrProtocol)
			}
			s.Trace.Boot(bytes.Clone(body))
		case 'P':
			if !s.askedBytecode || s.sawBytecode {
				return fmt.Errorf("%w: unasked bytecode frame", ErrProtocol)
			}
			s.sawBytecode = true
			s.Bytecode.store(bytes.Clone(body))
		case 'E':
			if s.Startup == nil || !s.Startup.asked || s.Startup.saw {
				return fmt.Errorf("%w: unasked startup frame", ErrProtocol)
			}
			s.Startup.saw = true
			s.Startup.store(bytes.Clone(body))
		case 'S':
			if s.Site == nil || !s.Site.asked || s.Site.saw {
				return fmt.Errorf("%w: unasked site frame", ErrProtocol)
			}
			s.Site.saw = true
			s.Site.store(bytes.Clone(body))
		case 'k':
			if s.rep == nil || !s.rep.execs {
				return fmt.Errorf("%w: unasked exec frame", ErrProtocol)
			}
			s.rep.frame(hdr[0], bytes.Clone(body), time.Since(s.start).Milliseconds())
		case 'a', 'f', 'c', 'X':
			if s.rep == nil {
				return fmt.Errorf("%w: report frame %q with the report off", ErrProtocol, hdr[0])
			}
			s.rep.frame(hdr[0], bytes.Clone(body), time.Since(s.start).Milliseconds())
		default:
			return fmt.Errorf("%w: frame type %q", ErrProtocol, hdr[0])
		}
	}
}

// ExitReport returns the exit frame, or nil if none came (call after
// Receive returned).
func (s *Session) ExitReport() *Exit {
	select {
	case <-s.exited:
		return s.exit
	default:
		return nil
	}
}

// Fill copies the captured output and the copy-out report into res.
func (s *Session) Fill(res *moat.Result) {
	res.Stdout, res.StdoutTruncated = s.stdout.Result()
	res.Stderr, res.StderrTruncated = s.stderr.Result()
	if s.spec.OutDir != "" {
		res.Out = &moat.OutReport{Dir: s.spec.OutDir}
		if s.outRep != nil {
			res.Out.Files, res.Out.Bytes, res.Out.Skipped = s.outRep.Files, s.outRep.Bytes, s.outRep.Skipped
		} else if s.ExitReport() != nil {
			res.Out.Error = "nothing came back from the container"
		}
		if s.outErr != nil {
			res.Out.Error = s.outErr.Error()
		}
	}
}

// ProgramPeak is the program's share of the container's peak memory: the
// peak less the init's reserve (Reserve), which the init held, touched,
// while the program ran and which the container's limit has beyond the
// program's (InitReserve): the figure a run's MaxRSSBytes reports, held
// to --memory as on every backend.
func (s *Session) ProgramPeak(peak int64) int64 {
	return max(peak-s.Reserve, 0)
}

// Outcome sets res.Status, ExitCode and Signal from what moat saw: the
// reason moat stopped the run (if any), the cgroup's counters, and the exit
// report, through moat.Ending.Classify. It returns an error wrapping
// moat.ErrSandbox for a failure of the sandbox itself.
func (s *Session) Outcome(res *moat.Result, backend string, reason moat.Status, st Stats, diag string) error {
	e := s.ExitReport()
	if e != nil && res.MaxRSSBytes == 0 {
		res.MaxRSSBytes = e.MaxRSS
	}
	end := moat.Ending{Stop: reason, OOMKills: st.OOMKills, PidsHits: st.PidsMax}
	if e != nil && e.PidsHit {
		end.PidsHits++
	}
	if e != nil && e.TimedOut && end.Stop == "" {
		end.Stop = moat.StatusTimeout // by the init's clock (ctrinit.Header.StopS)
	}
	switch {
	case e == nil:
		end.Lost = "the container's init said nothing"
		if d := termsafe.Line(lastLine(diag), 300); d != "" {
			end.Lost = "the container: " + d
		}
	case e.Error != "":
		end.StartErr, end.StartErrno = "start the program: "+e.Error, syscall.Errno(e.Errno)
	default:
		end.Exited, end.ExitCode, end.Signal = true, e.Exit, e.Signal
	}
	return end.Classify(backend, res)
}

// StopGrace is how long a backend waits for a killed container to go.
const StopGrace = 10 * time.Second

// lastLine is the last line of s with anything on it: what a Python
// traceback or an engine's log says last is the error itself.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
