package native

import (
	"context"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/local"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/sandbox/cgroup"
	"github.com/moat-sandbox/moat/internal/sandbox/nsinit"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
	"github.com/moat-sandbox/moat/internal/transfer/capture"
)

//go:embed zygote.py
var zygoteSource string

// zygoteStep bounds each step of a child's setup that waits on the
// zygote or the child (a hung zygote fails the preparation, not the pool).
const zygoteStep = 10 * time.Second

// zygoteMaxRun is the largest run a child takes (its files, to pid 1,
// and its argv and variables, to the program's process, together); a
// larger run does not fit and runs cold.
const zygoteMaxRun = 128 << 10

// ZygoteNote is the layer a zygote child's Result carries: what differs
// from a fresh sandbox.
var ZygoteNote = moat.Layer{Name: "zygote", Detail: "forked from a zygote interpreter: the str hash secret and the address layout of what was mapped before the fork are the zygote's, shared with the other runs of the pool; random reseeded"}

// Zygote is a pool source for the native backend (moat serve --zygote):
// one interpreter started once in a sandbox of its own (zygote.py) forks
// one child per prepared sandbox, which enters namespaces of its own, a
// cgroup of its own, and applies Landlock and seccomp before it waits for
// its program. It implements moat.Backend (a cold run, for the misses)
// and moat.Preparer (a child). Only templates without a network fit
// (NewZygote refuses others). With the behaviour report (a template
// without NoReport), each child gets a cold run's report
// (zygote_report_linux.go); its runs may still switch it off.
type Zygote struct {
	tmpl moat.Spec
	// goMsg is the message that lets a placed child go on: moat's
	// seccomp program, as the kernel takes it, assembled and encoded
	// once for every child.
	goMsg []byte

	mu     sync.Mutex
	cur    *zygoteSandbox
	closed bool
}

var (
	_ moat.Backend  = (*Zygote)(nil)
	_ moat.Preparer = (*Zygote)(nil)
)

// zygoteSandbox is the zygote's own sandbox and its control socket.
type zygoteSandbox struct {
	r    *runner
	ctl  int // the parent's end of the zygote's descriptor 3
	uid  int
	fifo string // the audit hook's channel, with the report
}

// NewZygote starts a zygote for runs like tmpl.
func NewZygote(tmpl *moat.Spec) (*Zygote, error) {
	if tmpl.Network != moat.NetworkNone || tmpl.Workspace != "" || tmpl.OutDir != "" || tmpl.Launcher || tmpl.Userland || tmpl.AllowDegraded {
		return nil, errors.New("native: zygote: only for templates without network, workspace, launcher, userland or degraded layers")
	}
	program := seccomp.Program
	if !tmpl.NoReport {
		program = seccomp.NotifyProgram // the kernel witness: the host serves each child's listener
	}
	raw, err := program()
	if err != nil {
		return nil, fmt.Errorf("native: zygote: seccomp: %w", err)
	}
	prog := make([]byte, 0, 8*len(raw))
	for _, in := range raw {
		prog = append(prog, byte(in.Op), byte(in.Op>>8), in.Jt, in.Jf, byte(in.K), byte(in.K>>8), byte(in.K>>16), byte(in.K>>24))
	}
	goMsg, err := json.Marshal(map[string]string{"kind": "go", "seccomp": hex.EncodeToString(prog)})
	if err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	z := &Zygote{tmpl: *tmpl, goMsg: goMsg}
	z.tmpl.Stdin, z.tmpl.Stdout, z.tmpl.Stderr, z.tmpl.Files = nil, nil, nil, nil
	if _, err := z.zygote(); err != nil {
		return nil, err
	}
	return z, nil
}

// Run runs spec cold: the native backend's own path.
func (z *Zygote) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	return run(ctx, spec)
}

// zygote returns the running zygote, starting one if there is none or
// the last one died.
func (z *Zygote) zygote() (*zygoteSandbox, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return nil, errors.New("native: zygote closed")
	}
	if z.cur != nil {
		select {
		case <-z.cur.r.exited:
			z.cur.close()
			z.cur = nil
		default:
			return z.cur, nil
		}
	}
	zs, err := startZygote(&z.tmpl)
	if err != nil {
		return nil, err
	}
	z.cur = zs
	return zs, nil
}

func startZygote(tmpl *moat.Spec) (*zygoteSandbox, error) {
	t := *tmpl
	t.Args = []string{"-c", "pass"}
	t.NoReport = true // the zygote's own run: no tokens, no listener (zygoteReport)
	r, err := newRunner(&t)
	if err != nil {
		return nil, err
	}
	r.zygoteHook = !tmpl.NoReport
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	r.zygoteSock = os.NewFile(uintptr(fds[1]), "zygote")
	// The zygote's environment: the sandbox's own, as a run of the
	// template would have it.
	if err := r.prepare(true); err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	zs := &zygoteSandbox{r: r, ctl: fds[0], uid: r.cfg.UID}
	if r.zygoteHook {
		zs.fifo = r.hookRoot + "/audit"
	}
	return zs, nil
}

// close kills the zygote (its children are in namespaces of their own,
// each under its pid 1, and die with their own runs) and cleans up.
func (zs *zygoteSandbox) close() {
	_ = unix.Close(zs.ctl)
	_ = zs.r.cmd.Process.Kill()
	<-zs.r.exited
	select {
	case <-zs.r.done:
	default:
		close(zs.r.done)
	}
	zs.r.notifyWG.Wait()
	zs.r.cleanup()
}

// Close kills the zygote. Children already forked live on until their
// own Close or run.
func (z *Zygote) Close() {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.closed = true
	if z.cur != nil {
		z.cur.close()
		z.cur = nil
	}
}

// Pid is the host pid of the zygote sandbox's init, for tests.
func (z *Zygote) Pid() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.cur == nil {
		return 0
	}
	return z.cur.r.cmd.Process.Pid
}

// zygoteChild is one prepared child: pid 1 of its own PID namespace,
// waiting for its run.
type zygoteChild struct {
	tmpl                    *moat.Spec
	sock                    int // the parent's end of the child's socket
	stdinW, stdoutR, stderr *os.File
	runW                    *os.File // the run's pipe to the program's process: the host's alone
	group                   cgroup.Group
	groupName               string
	pid1                    int // host pid of the child's pid 1
	pidfd                   int // of the child's pid 1
	lim                     moat.Limits
	baseEnv                 []string
	python                  string
	rt                      *pyrt.Runtime
	rep                     *childReport // nil: the template has no report
	layers                  []moat.Layer
	once                    sync.Once
	done                    chan struct{}
	tidied                  chan struct{}
}

// Prepare forks a child of the zygote for a run like tmpl: its limits
// are the child's own; its interpreter must be the zygote's.
func (z *Zygote) Prepare(ctx context.Context, tmpl *moat.Spec) (moat.Prepared, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	zs, err := z.zygote()
	if err != nil {
		return nil, err
	}
	t := *tmpl
	t.Stdin, t.Stdout, t.Stderr, t.Files = nil, nil, nil, nil
	if t.Python != z.tmpl.Python || t.Network != moat.NetworkNone || t.Workspace != "" || t.OutDir != "" || (!t.NoReport && z.tmpl.NoReport) || t.Userland || t.Launcher || t.AllowDegraded {
		return nil, fmt.Errorf("native: zygote: the template does not fit a zygote child (interpreter, network, workspace, report or options): %w", moat.ErrMismatch)
	}
	c, err := z.fork(zs, &t)
	if errors.Is(err, errZygoteFault) {
		// A zygote that did not fork is not trusted with the next (its
		// waiting children die with it). A child that failed later
		// (its cgroup, its setup) is the child's fault alone.
		z.mu.Lock()
		if z.cur == zs {
			z.cur.close()
			z.cur = nil
		}
		z.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// errZygoteFault marks a fork that failed on the zygote's side.
var errZygoteFault = errors.New("the zygote did not fork")

func (z *Zygote) fork(zs *zygoteSandbox, tmpl *moat.Spec) (_ *zygoteChild, err error) {
	lim := tmpl.Limits.WithDefaults()
	c := &zygoteChild{tmpl: tmpl, sock: -1, pidfd: -1, lim: lim, python: zs.r.rt.Command, rt: zs.r.rt, done: make(chan struct{}), tidied: make(chan struct{})}
	var childEnds []*os.File
	defer func() {
		for _, f := range childEnds {
			f.Close()
		}
		if err != nil {
			c.destroy()
		}
	}()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	c.sock = fds[0]
	childEnds = append(childEnds, os.NewFile(uintptr(fds[1]), "child"))
	if err := unix.SetsockoptInt(c.sock, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	tv := unix.NsecToTimeval(zygoteStep.Nanoseconds())
	if err := unix.SetsockoptTimeval(c.sock, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	c.stdinW = stdinW
	childEnds = append(childEnds, stdinR)
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	c.stdoutR = stdoutR
	childEnds = append(childEnds, stdoutW)
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	c.stderr = stderrR
	childEnds = append(childEnds, stderrW)
	// The run goes to the program's process on a pipe of its own, from
	// the host, not through pid 1: the program is made ahead and waits
	// on the read end (its descriptor 4); the host holds the only write
	// end, so the run is the host's word alone, and one wake-up
	// (the program's) lies between the request and the run's start.
	runR, runW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	c.runW = runW
	childEnds = append(childEnds, runR)

	// A persona of its own: host name, user name, home and /etc files.
	p := observe.NewPersona()
	files, dirs, ro := nsinit.ProcMasks()
	fork := map[string]any{
		"disk": lim.Disk, "home": p.Home, "host": p.Host, "nproc": lim.Pids + 3*initThreads, "fsize": lim.Disk,
		"init": p.Init, "last_pid": coldLastPid,
		"proc": nsinit.ZygoteProc, "proc_files": files, "proc_dirs": dirs, "proc_ro": ro, "devpts": nsinit.DevptsOptions,
		"etc": nsinit.EtcFiles(nsinit.Persona{Host: p.Host, User: p.User, Gecos: p.Gecos, Home: p.Home}, p.Home, zs.uid, zs.uid),
		// passwd, group and machine-id's times: the machine's install,
		// before its boot (the host's, the least the zygote's clocks say).
		"etc_time": observe.Installed(bootClock()).Unix(),
	}
	if zs.fifo != "" {
		c.rep = &childReport{plan: observe.NewPlan(p.Home, tmpl.Env), home: p.Home, listener: -1, mntns: -1, root: -1}
		c.rep.plan.Identity(p.Host, p.User, p.Home, nsinit.WorkDir, tmpl.Env)
		fork["fifo"], fork["notify"] = zs.fifo, true
		// What outlives the program is listed before it is killed (as
		// native's init does: package survivors), within these bounds.
		fork["outlived"] = []int{int(survivors.Grace / time.Millisecond), int(survivors.Quiet / time.Millisecond),
			int(survivors.SessionGrace / time.Millisecond), survivors.Max, survivors.CmdBytes}
	}
	// The zygote gets the descriptors only; the child's config goes on
	// the child's own socket, which the child reads first: a child
	// inherits the zygote's memory, and with it whatever the zygote ever
	// read of an earlier child's. The honeytokens go to neither (plant).
	cfg, _ := json.Marshal(fork)
	rights := unix.UnixRights(int(childEnds[0].Fd()), int(stdinR.Fd()), int(stdoutW.Fd()), int(stderrW.Fd()), int(runR.Fd()))
	z.mu.Lock()
	err = unix.Sendmsg(zs.ctl, []byte(`{"kind":"fork"}`), rights, nil, 0)
	z.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("native: zygote: send fork: %w: %w", err, errZygoteFault)
	}
	if err := unix.Sendmsg(c.sock, cfg, nil, nil, 0); err != nil {
		return nil, fmt.Errorf("native: zygote: send the child's config: %w", err)
	}
	for _, f := range childEnds {
		f.Close()
	}
	childEnds = nil

	m, pid, fifo, err := c.recvFD()
	if err != nil || m.Kind != "placed?" {
		if fifo >= 0 {
			_ = unix.Close(fifo)
		}
		return nil, fmt.Errorf("native: zygote: child setup: %w: %w", c.childErr(err, m), errZygoteFault)
	}
	// The sender is the child's pid 1 (the kernel's credentials), and
	// it waits for the answer, alive: its pid is its own. Its exit is the
	// last of the child's processes and namespaces (destroy).
	if c.pidfd, err = unix.PidfdOpen(pid, 0); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		if fifo >= 0 {
			_ = unix.Close(fifo)
		}
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	c.pid1 = pid
	go func() {
		pfd := []unix.PollFd{{Fd: int32(c.pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(pfd, -1); err != unix.EINTR {
				break
			}
		}
		close(c.done)
	}()
	if c.rep != nil {
		if fifo < 0 {
			return nil, errors.New("native: zygote: the child sent no audit channel")
		}
		// Pollable: the end of its reading has a deadline (zygoteRun.finish).
		_ = unix.SetNonblock(fifo, true)
		c.rep.fifo = os.NewFile(uintptr(fifo), "audit")
		if err := c.rep.plant(pid); err != nil {
			_ = unix.Kill(pid, unix.SIGKILL)
			return nil, fmt.Errorf("native: zygote: %w", err)
		}
	} else if fifo >= 0 {
		_ = unix.Close(fifo)
	}
	c.groupName = "moat-" + local.NewID()
	c.group, err = cgroup.New(c.groupName, cgroup.Limits{Memory: lim.Memory, Pids: lim.Pids + 2*initThreads, CPUs: lim.CPUs})
	if err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	if err := c.group.AddProc(pid); err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	if err := unix.Sendmsg(c.sock, z.goMsg, nil, nil, 0); err != nil {
		return nil, fmt.Errorf("native: zygote: %w", err)
	}
	m, from, listener, err := c.recvFD()
	if c.rep != nil {
		c.rep.listener = listener
	} else if listener >= 0 {
		_ = unix.Close(listener)
	}
	if err == nil && m.Kind == "waiting" && from != c.pid1 {
		err = fmt.Errorf("\"waiting\" from pid %d, not the child's pid 1 (%d)", from, c.pid1)
	}
	if err != nil || m.Kind != "waiting" {
		return nil, fmt.Errorf("native: zygote: child setup: %w", c.childErr(err, m))
	}
	if c.rep != nil && listener < 0 {
		// Fail closed: no kernel witness, no report.
		return nil, errors.New("native: zygote: the child sent no seccomp listener")
	}
	if abi, ok := m.Landlock.(float64); !ok || abi < 1 {
		// Fail closed: a zygote child takes no --allow-degraded run.
		return nil, fmt.Errorf("native: zygote: the child could not apply Landlock (%v): %w", m.Landlock, moat.ErrDegraded)
	}
	if c.rep != nil {
		if err := c.rep.place(c.pid1); err != nil {
			return nil, fmt.Errorf("native: zygote: %w", err)
		}
	}
	c.baseEnv = []string{
		"PATH=" + strings.TrimSuffix(c.python, "/"+lastElem(c.python)) + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + p.Home, "TMPDIR=" + nsinit.TmpDir, "LANG=C.UTF-8", "USER=" + p.User, "LOGNAME=" + p.User,
		"PYTHONUNBUFFERED=1",
	}
	c.layers = []moat.Layer{
		{Name: "user-namespace", Detail: fmt.Sprintf("the child's own, mapping only uid %d gid %d; setgroups denied", zs.uid, zs.uid)},
		{Name: "pid-namespace", Detail: "the child's own; its pid 1 (the zygote's reaper) kills every process when the program ends"},
		{Name: "network-namespace", Detail: "none: private loopback only"},
		{Name: "ipc-namespace"}, {Name: "uts-namespace"}, {Name: "cgroup-namespace"}, {Name: "mount-namespace", Detail: "the child's own over the zygote's read-only root"},
		{Name: "disk", Detail: fmt.Sprintf("one fresh tmpfs of %d bytes for /work /tmp %s /dev/shm", lim.Disk, p.Home)},
		{Name: "dev", Detail: fmt.Sprintf("the zygote's (null zero full random urandom tty); ptys of a devpts of the child's own (at most %d)", nsinit.PtyMax)},
		{Name: "capabilities", Detail: "none"},
		{Name: fmt.Sprintf("cgroup-v%d", c.group.Version()), Detail: fmt.Sprintf("%s; memory %d bytes, pids %d, cpus %g", strings.Join(c.group.Controllers(), ","), lim.Memory, lim.Pids, lim.CPUs)},
		{Name: "seccomp", Detail: "moat's program, as the native backend's"},
		{Name: "no-new-privs"},
		{Name: "rlimits", Detail: fmt.Sprintf("nproc %d, fsize %d, core 0", lim.Pids+3*initThreads, lim.Disk)},
		ZygoteNote,
	}
	if m.MM != 0 {
		// The kernel refused PR_SET_MM_MAP: the program's /proc/self
		// cmdline and environ, and pid 1's, are the zygote's.
		c.layers[len(c.layers)-1].Detail += fmt.Sprintf("; /proc/self/cmdline and environ are the zygote's (PR_SET_MM_MAP: %s)", unix.ErrnoName(unix.Errno(m.MM)))
	}
	if c.rep != nil {
		c.layers[slices.IndexFunc(c.layers, func(l moat.Layer) bool { return l.Name == "seccomp" })].Detail += ", its listener served by moat (the kernel's events of the report)"
	}
	if abi, ok := m.Landlock.(float64); ok && abi > 0 {
		c.layers = append(c.layers, moat.Layer{Name: "landlock", Detail: fmt.Sprintf("ABI %d: read-only everywhere but /work /tmp %s /dev/shm", int(abi), p.Home)})
	}
	return c, nil
}

func lastElem(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// zygoteMsg is one message from a child.
type zygoteMsg struct {
	Kind     string `json:"kind"`
	Landlock any    `json:"landlock"`
	ExitCode int    `json:"exit_code"`
	Signal   int    `json:"signal"`
	MM       int    `json:"mm"` // the errno of pid 1's PR_SET_MM_MAP; 0: done
	// Outlived: the processes still running when the program ended, which
	// pid 1 killed (the exit message; the program's, so made events of
	// only through survivors.Events).
	Outlived []survivors.Process `json:"outlived"`
}

// coldLastPid is the pid a cold native run's init has taken last when it
// starts the program (itself and the threads of Go's runtime): a zygote
// child's pid 1 sets its namespace's ns_last_pid to it, so that the
// program's pid is a cold run's (TestZygoteTells compares them).
const coldLastPid = 9

// recv reads one message of the child and the host pid of its sender
// (the kernel's credentials, not the child's word).
func (c *zygoteChild) recv() (zygoteMsg, int, error) {
	m, pid, fd, err := c.recvFD()
	if fd >= 0 {
		_ = unix.Close(fd)
	}
	return m, pid, err
}

// recvFD is recv, and the descriptor the message carried (-1 if none).
func (c *zygoteChild) recvFD() (m zygoteMsg, pid, fd int, err error) {
	m, pid, oob, err := c.recvOOB()
	fd = -1
	if err == nil {
		fd, _ = recvFD(oob)
	}
	return m, pid, fd, err
}

func (c *zygoteChild) recvOOB() (zygoteMsg, int, []byte, error) {
	var m zygoteMsg
	// The exit message lists at most survivors.Max command lines of
	// survivors.CmdBytes, JSON-escaped (6 bytes a byte at most): 64 KiB.
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(c.sock, buf, oob, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return m, 0, nil, err
		}
		if n == 0 {
			return m, 0, nil, io.EOF
		}
		pid := 0
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, cm := range cms {
				if cred, err := unix.ParseUnixCredentials(&cm); err == nil {
					pid = int(cred.Pid)
				}
			}
		}
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			closeFDs(oob[:oobn])
			return m, 0, nil, fmt.Errorf("bad message from child: %w", err)
		}
		if pid <= 0 {
			closeFDs(oob[:oobn])
			return m, 0, nil, errors.New("no credentials from child")
		}
		return m, pid, oob[:oobn], nil
	}
}

func (c *zygoteChild) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := unix.Sendmsg(c.sock, b, nil, nil, 0); err != nil {
		return fmt.Errorf("native: zygote: %w", err)
	}
	return nil
}

// childErr says why a child's setup failed: the error, or what the child
// wrote on its stderr before it died.
func (c *zygoteChild) childErr(err error, m zygoteMsg) error {
	if err == nil {
		err = fmt.Errorf("unexpected message %q", m.Kind)
	}
	if c.stderr != nil {
		_ = c.stderr.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		b := make([]byte, 512)
		if n, _ := c.stderr.Read(b); n > 0 {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(b[:n])))
		}
	}
	return err
}

// Done is closed when the child's pid 1 has exited.
func (c *zygoteChild) Done() <-chan struct{} { return c.done }

// kill kills the child's pid 1, and with it its PID namespace.
func (c *zygoteChild) kill() {
	if c.pidfd >= 0 {
		_ = unix.PidfdSendSignal(c.pidfd, unix.SIGKILL, nil, 0)
	}
}

// settleWait bounds destroy's wait for the child's processes to end by
// themselves; after it the cgroup's own kill (freeze, signal) takes over.
const settleWait = 2 * time.Second

// settle kills the child's pid 1 and waits, within settleWait, until
// it has exited: a pid 1's exit waits for every other process of its PID
// namespace to be gone (the kernel kills and reaps them), and its pidfd
// says it has exited once it has left its cgroup, so that a cgroup found
// empty then is only removed. One with a process in it is frozen to be
// killed, which on cgroup v1 flips a kernel static key (text patching,
// every CPU stopped) twice a child. After settleWait the cgroup's own
// kill takes over.
func (c *zygoteChild) settle() {
	if c.pidfd < 0 {
		return
	}
	c.kill()
	select {
	case <-c.done:
	case <-time.After(settleWait):
	}
}

// destroy kills what is left and removes the cgroup and descriptors.
func (c *zygoteChild) destroy() {
	c.settle()
	if c.group != nil {
		_ = c.group.Destroy()
	}
	for _, f := range []*os.File{c.stdinW, c.stdoutR, c.stderr, c.runW} {
		if f != nil {
			f.Close()
		}
	}
	if c.sock >= 0 {
		_ = unix.Close(c.sock)
	}
	if c.pidfd >= 0 {
		<-c.done
		_ = unix.Close(c.pidfd)
	}
	c.rep.close()
}

// Close destroys the child if it was not run.
func (c *zygoteChild) Close() error {
	c.once.Do(func() {
		c.destroy()
		close(c.tidied)
	})
	<-c.tidied
	return nil
}

// fits: what Prepared.fits checks for a prestarted sandbox, and no
// report, no network.
func (c *zygoteChild) fits(spec *moat.Spec) error {
	why := sandboxDiffers(spec, c.tmpl)
	if spec.PersonaKey != "" {
		why = append(why, "persona") // a child's is drawn fresh when it is made
	}
	if spec.Workspace != "" || spec.OutDir != "" {
		why = append(why, "workspace")
	}
	if w := warmFits(spec); w != "" {
		why = append(why, w)
	}
	if spec.AllowDegraded || spec.Userland || spec.Launcher {
		why = append(why, "options")
	}
	if !spec.NoReport && c.rep == nil {
		why = append(why, "report")
	}
	if len(why) > 0 {
		return fmt.Errorf("native: the zygote child differs in %s: %w", strings.Join(why, ", "), moat.ErrMismatch)
	}
	return nil
}

// Run hands spec to the child and waits for its end.
func (c *zygoteChild) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	if err := c.fits(spec); err != nil {
		return nil, err
	}
	report := c.rep != nil && !spec.NoReport
	files := make(map[string]string, len(spec.Files))
	for name, data := range spec.Files {
		files[name] = hex.EncodeToString(data)
	}
	// written: the child's pid 1 writes the run's files and says so
	// before the host sends the program its run (and, with the report,
	// takes the "before" picture between).
	written := len(files) > 0
	env := append(append([]string(nil), c.baseEnv...), spec.Env...)
	if report {
		env = append(env, c.rep.tokenEnv(spec.Env)...)
	}
	// Two messages: the files to pid 1, the rest to the program's
	// process on its run pipe.
	fmsg, err := json.Marshal(map[string]any{"files": files, "written": written})
	if err != nil || len(fmsg) > zygoteMaxRun {
		return nil, fmt.Errorf("native: the run is too large for a zygote child: %w", moat.ErrMismatch)
	}
	msg, err := json.Marshal(map[string]any{"argv": append([]string{c.python}, spec.Args...), "env": env})
	if err != nil || len(fmsg)+len(msg) > zygoteMaxRun {
		return nil, fmt.Errorf("native: the run is too large for a zygote child: %w", moat.ErrMismatch)
	}
	var run bool
	c.once.Do(func() { run = true })
	if !run {
		return nil, fmt.Errorf("native: zygote child already used: %w", moat.ErrStale)
	}
	select {
	case <-c.done:
		c.destroy()
		close(c.tidied)
		return nil, fmt.Errorf("native: zygote child died while waiting: %w", moat.ErrStale)
	default:
	}
	begin := time.Now()
	res := &moat.Result{Isolation: "native", Layers: append(append([]moat.Layer(nil), c.layers...),
		moat.Layer{Name: "timeout", Detail: spec.Limits.WithDefaults().Timeout.String()},
		moat.Layer{Name: "output-limit", Detail: fmt.Sprintf("%d bytes per stream", spec.Limits.WithDefaults().OutputLimit)})}
	zr, err := c.startReport(spec, res, c.done)
	if err != nil {
		c.destroy()
		close(c.tidied)
		return nil, fmt.Errorf("native: zygote child: %w", err)
	}
	if err := unix.Sendmsg(c.sock, fmsg, nil, nil, 0); err != nil {
		c.destroy()
		close(c.tidied)
		return nil, fmt.Errorf("native: zygote child: %w: %w", err, moat.ErrStale)
	}
	if written {
		if m, _, err := c.recv(); err != nil || m.Kind != "written" {
			c.destroy()
			close(c.tidied)
			return nil, fmt.Errorf("native: zygote child: write the run's files: %w", c.childErr(err, m))
		}
	}
	zr.walkBefore()
	// The program starts once it has read its run to the end (the pipe's
	// EOF: the host's end closed). One that died while waiting makes the
	// write fail; its status is pid 1's to report.
	runW := c.runW
	c.runW = nil
	_ = runW.SetWriteDeadline(time.Now().Add(zygoteStep))
	_, _ = runW.Write(msg)
	runW.Close()
	lim := spec.Limits.WithDefaults()
	var (
		mu     sync.Mutex
		reason moat.Status
	)
	var atStop []survivors.Process
	stop := func(why moat.Status) {
		mu.Lock()
		first := reason == ""
		if first {
			reason = why
		}
		mu.Unlock()
		if first && c.rep != nil {
			// The daemons are listed before the kill: pid 1 lists what
			// outlives the program only when the program ends.
			ds := stopOutlived(c.pid1)
			mu.Lock()
			atStop = ds
			mu.Unlock()
		}
		c.kill()
	}
	stdout := capture.New(spec.Stdout, lim.OutputLimit, func() { stop(moat.StatusOutputLimit) })
	stderr := capture.New(spec.Stderr, lim.OutputLimit, func() { stop(moat.StatusOutputLimit) })
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); stdout.Drain(c.stdoutR) }()
	go func() { defer wg.Done(); stderr.Drain(c.stderr) }()
	stdinW := c.stdinW
	c.stdinW = nil
	if spec.Stdin != nil {
		go func() { _, _ = io.Copy(stdinW, spec.Stdin); stdinW.Close() }()
	} else {
		stdinW.Close()
	}
	timer := time.AfterFunc(lim.Timeout, func() { stop(moat.StatusTimeout) })
	ended := make(chan struct{})
	go cgroup.Watch(c.group, ended, func(b cgroup.Breach) {
		if b == cgroup.BreachMemory {
			stop(moat.StatusMemory)
		} else {
			stop(moat.StatusPids)
		}
	})
	go func() {
		select {
		case <-ctx.Done():
			stop(moat.StatusCanceled)
		case <-ended:
		}
	}()
	// The exit message, or EOF when pid 1 was killed. The socket's
	// receive timeout is the setup's: not for the run.
	tv := unix.Timeval{}
	_ = unix.SetsockoptTimeval(c.sock, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	m, from, rerr := c.recv()
	if rerr != nil || from != c.pid1 || m.Kind != "exit" {
		// Only pid 1's exit message says that every process of the run
		// has ended (it sends it once it has killed and reaped them
		// all); anything else waits for pid 1 itself to be gone.
		<-c.done
	}
	close(ended)
	timer.Stop()
	wg.Wait()
	res.DurationMS = time.Since(begin).Milliseconds()
	res.Stdout, res.StdoutTruncated = stdout.Result()
	res.Stderr, res.StderrTruncated = stderr.Result()
	st, _ := c.group.Stats()
	mu.Lock()
	why := reason
	mu.Unlock()
	res.MaxRSSBytes = st.PeakMemory
	switch {
	case why != "":
		res.Status = why
		res.ExitCode = -1
	case st.OOMKills != 0:
		res.Status, res.ExitCode = moat.StatusMemory, -1
	case rerr != nil || m.Kind != "exit" || from != c.pid1:
		res.Status, res.ExitCode = moat.StatusError, -1
		res.Error = "the zygote child's pid 1 died without a status"
	case m.Signal != 0:
		res.Status, res.Signal, res.ExitCode = moat.StatusSignaled, m.Signal, -1
	default:
		res.Status, res.ExitCode = moat.StatusExited, m.ExitCode
	}
	if res.Status == moat.StatusExited && st.PidsMaxHits > 0 && res.ExitCode != 0 {
		res.Status, res.ExitCode = moat.StatusPids, -1
	}
	if m.Kind == "exit" && from == c.pid1 {
		zr.outlived = m.Outlived
	}
	if len(zr.outlived) == 0 {
		mu.Lock()
		zr.outlived = atStop
		mu.Unlock()
	}
	res = zr.finish(res)
	go func() {
		c.destroy()
		close(c.tidied)
	}()
	return res, nil
}

// Tidied is closed once a child that ran is gone and cleaned up.
func (c *zygoteChild) Tidied() <-chan struct{} { return c.tidied }

// bootClock is how long the host has been up (CLOCK_BOOTTIME).
func bootClock() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return time.Duration(ts.Nano())
}
