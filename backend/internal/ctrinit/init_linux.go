package ctrinit

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/observe/pycpath"
	"github.com/moat-sandbox/moat/internal/observe/scanorder"
	"github.com/moat-sandbox/moat/internal/observe/witness"
	"github.com/moat-sandbox/moat/internal/observe/xattr"
	"github.com/moat-sandbox/moat/internal/sandbox/loginuid"
	"github.com/moat-sandbox/moat/internal/sandbox/pid1"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// init runs the container init (or its exec shim) when this process was
// started as one, and exits; see the package doc.
func init() {
	if os.Getenv(ReexecEnv) == ReexecValue && os.Getpid() == 1 && len(os.Args) == 1 {
		_ = os.Unsetenv(ReexecEnv)
		if len(os.Args) > 0 && os.Args[0] != "" {
			if name, err := unix.BytePtrFromString(filepath.Base(os.Args[0])); err == nil {
				_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0)
			}
		}
		os.Exit(Main())
	}
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case Arg:
		if len(os.Args) > 2 && os.Args[2] != "" {
			// The persona's command line: pid 1 again, under that argv.
			err := unix.Exec("/proc/self/exe", []string{os.Args[2]}, append(os.Environ(), ReexecEnv+"="+ReexecValue))
			fmt.Fprintf(os.Stderr, "moat-init: re-execute: %v\n", err)
			os.Exit(125)
		}
		os.Exit(Main())
	case ExecArg:
		os.Exit(execShim(os.Args[2:]))
	}
}

// maxHeader bounds the header (the Files it carries included).
const maxHeader = 256 << 20

// Main is pid 1 of the container; see the package doc. It returns the
// init's exit status: 0 once the exit frame is sent, 125 when it cannot
// run at all.
func Main() int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "moat-init: "+format+"\n", a...)
		return 125
	}
	// kill(-1) below ends every process this one can signal: safe only as
	// pid 1 of the container's own PID namespace. Anywhere else, refuse.
	if os.Getpid() != 1 {
		return fail("not pid 1 of a PID namespace; refusing to run")
	}
	in := &initProc{ctl: os.Stdin, out: os.Stdout, stdin: os.Stdin, marks: []mark{{monoNow(), "init started"}}}
	// Nothing inherited may reach the program: whatever the engine
	// passed beyond 0, 1 and 2 is closed on exec.
	closeOnExecFrom(3)
	if os.Getenv(FDsEnv) == "1" {
		_ = os.Unsetenv(FDsEnv)
		in.ctl, in.out, in.stdin = os.NewFile(FDControl, "control"), os.NewFile(FDFrames, "frames"), os.NewFile(FDStdin, "stdin")
	}
	// As pid 1, the kernel delivers only the signals the init handles, and
	// Go's runtime handles most; the program (the same uid) may send any.
	// Those the runtime dies of when they are not notified (HUP, INT,
	// TERM) or throws on (QUIT, ABRT) are notified, and dropped; those it
	// throws on when a process sends them (ILL, TRAP, BUS, FPE, SEGV,
	// STKFLT, SYS) are ignored, which for them changes only Go's reading
	// of a user-sent one, not the kernel's handler. Everything else the
	// runtime drops by itself, but for 32 and 34, which it leaves at
	// SIG_DFL: those are set to SIG_IGN once the program started (run).
	// The program starts with every signal at default. (Notifying all 64 would cost
	// some 3 ms: each one is a round trip between two threads.)
	// Setting them up takes Go's runtime some 0.4 ms of round trips
	// between two threads: it overlaps the setup, and the program starts
	// once it is done.
	in.signals = make(chan struct{})
	go func() {
		sigs := make(chan os.Signal, 16)
		signal.Notify(sigs, unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGQUIT, unix.SIGABRT)
		signal.Ignore(unix.SIGILL, unix.SIGTRAP, unix.SIGBUS, unix.SIGFPE, unix.SIGSEGV, unix.SIGSTKFLT, unix.SIGSYS)
		close(in.signals)
		for range sigs {
		}
	}()
	// Opened while /proc/self is still the init's own user's.
	oom, err := openOOM()
	if err != nil {
		return fail("%v", err)
	}
	in.oom = oom
	// Non-dumpable: the program (the same uid) cannot ptrace this process
	// or open /proc/1/fd/1 to forge frames.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fail("set non-dumpable: %v", err)
	}
	h, err := readHeader(in.ctl)
	if err != nil {
		return fail("header: %v", err)
	}
	if len(h.Key) != KeySize {
		return fail("header: a key of %d bytes, want %d", len(h.Key), KeySize)
	}
	// The key lives on only in the tagger's state; see the package doc.
	in.tag = NewTagger(h.Key)
	clear(h.Key)
	h.Key = nil
	in.h = h
	in.mark("header read")
	if in.reserve, err = takeReserve(h.Reserve); err != nil {
		return fail("%v", err)
	}
	if err := in.workspace(); err != nil {
		return fail("workspace: %v", err)
	}
	if err := trustCA(h.CAFile, h.CA); err != nil {
		return fail("sinkhole CA: %v", err)
	}
	if h.Report != nil {
		if err := in.setupReport(); err != nil {
			return fail("report: %v", err)
		}
		in.mark("report set up")
	}
	return in.run()
}

type mark struct {
	ns   int64
	what string
}

// initProc is the init's state for its one run.
type initProc struct {
	h     *Header
	ctl   io.Reader // the header, the workspace, the end
	out   io.Writer // frames
	stdin *os.File  // the program's
	outMu sync.Mutex
	tag   *Tagger // under outMu
	marks []mark

	signals   chan struct{} // closed once the signals are set up
	fifo      *os.File      // the audit hook's FIFO; nil with the report off
	relayed   int64
	auditCut  int64 // bytes of the FIFO not relayed
	before    []entry
	beforeCut string
	deadline  time.Time // of the report's walks
	witness   *witness.Witness
	witnessed Walks[entry] // the witness's fields only
	execs     *execWatch   // nil: no kernel witness of execs
	execsOff  string       // why not, when asked
	outlived  []survivors.Process
	reserve   *reserve // let go once the program is reaped
	oom       *os.File // /proc/self/oom_score_adj (programOOM)
}

func (in *initProc) mark(what string) { in.marks = append(in.marks, mark{monoNow(), what}) }

// send writes one frame, tagged; frames of concurrent senders never
// interleave.
func (in *initProc) send(t byte, data []byte) {
	in.outMu.Lock()
	defer in.outMu.Unlock()
	b := make([]byte, 5, 5+len(data)+TagSize)
	b[0] = t
	binary.BigEndian.PutUint32(b[1:], uint32(len(data)))
	b = in.tag.Tag(append(b, data...), t, data)
	_, _ = in.out.Write(b)
}

// framer is an io.Writer of frames of type t, at most 1 MiB each.
type framer struct {
	in *initProc
	t  byte
}

func (f framer) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i += 1 << 20 {
		f.in.send(f.t, p[i:min(len(p), i+1<<20)])
	}
	return len(p), nil
}

func readHeader(r io.Reader) (*Header, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, fmt.Errorf("stdin closed in the header: %w", err)
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxHeader {
		return nil, fmt.Errorf("header of %d bytes", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("stdin closed in the header: %w", err)
	}
	defer clear(b) // it holds the key
	return parseHeader(b)
}

func parseHeader(b []byte) (*Header, error) {
	var h Header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, err
	}
	if len(h.Argv) == 0 {
		return nil, errors.New("no program")
	}
	return &h, nil
}

// chunks reads the workspace tar from stdin, chunk by chunk (u32 length
// + bytes, an empty chunk at the end), never past the end: what follows
// is the program's stdin.
type chunks struct {
	r    io.Reader
	left uint32
	eof  bool
}

func (c *chunks) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.eof {
			return 0, io.EOF
		}
		var n [4]byte
		if _, err := io.ReadFull(c.r, n[:]); err != nil {
			return 0, io.ErrUnexpectedEOF
		}
		c.left = binary.BigEndian.Uint32(n[:])
		c.eof = c.left == 0
	}
	if uint32(len(p)) > c.left {
		p = p[:c.left]
	}
	k, err := c.r.Read(p)
	c.left -= uint32(k)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}

// workspace writes the workspace tar and the Files into WorkDir.
func (in *initProc) workspace() error {
	if in.h.Tar {
		c := &chunks{r: in.ctl}
		// The host packed the tree within the disk limit; the tmpfs
		// enforces it anyway.
		if _, err := treecopy.Unpack(c, WorkDir, treecopy.Limits{Bytes: 1 << 62, Files: 1 << 20}, treecopy.Options{KeepLinks: true, AnyNames: true, Whole: true}); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, c); err != nil { // to the end chunk, whatever tar left
			return err
		}
	}
	names := make([]string, 0, len(in.h.Files))
	for name := range in.h.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		data, err := hex.DecodeString(in.h.Files[name])
		if err != nil {
			return fmt.Errorf("file %q: %w", name, err)
		}
		if err := writeNew(filepath.Join(WorkDir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// trustCA writes the sinkhole's CA certificate as the trust store file
// (nothing without one), then makes its directory read-only: the
// program, the same user, could change that back, and only fool itself.
func trustCA(file string, pem []byte) error {
	if len(pem) == 0 {
		return nil
	}
	if !filepath.IsAbs(file) || filepath.Clean(file) != file {
		return fmt.Errorf("trust store path %q", file)
	}
	if err := writeNew(file, pem, 0o444); err != nil {
		return err
	}
	return os.Chmod(filepath.Dir(file), 0o555)
}

// writeNew writes data to path, never through a link.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	return errors.Join(werr, f.Close())
}

// setupReport installs the audit hook and its FIFO, plants the
// honeytokens and walks the writable directories. The hook (in a site
// directory, or first on the program's PYTHONPATH, set by moat) and the
// FIFO belong to the sandbox user, as the program does: the hook's events
// are the program's claims.
func (in *initProc) setupReport() error {
	rep := in.h.Report
	if err := in.installHook(); err != nil {
		return err
	}
	if rep.SiteProbe != "" {
		in.send('S', in.python(rep.SiteProbe, nil, "", MaxSiteProbe))
	}
	if rep.StartupCompile != "" && rep.Site != "" {
		in.send('E', in.python(rep.StartupCompile, strings.NewReader(rep.StartupLoader), "", MaxStartup))
	}
	fifo := rep.Dir + "/audit"
	if err := os.MkdirAll(rep.Dir, 0o755); err != nil {
		return err
	}
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return fmt.Errorf("mkfifo: %w", err)
	}
	if err := os.Chmod(fifo, 0o622); err != nil { // past the umask
		return err
	}
	// O_RDWR: a writer too, so the FIFO never reports EOF. Non-blocking:
	// Go's poller reads it.
	f, err := os.OpenFile(fifo, os.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	in.fifo = f
	paths := make([]string, 0, len(rep.Plant))
	for p := range rep.Plant {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := writeNew(p, []byte(rep.Plant[p]), 0o600); err != nil {
			return err
		}
	}
	in.armWitness()
	in.before, in.beforeCut = walk(rep, time.Now().Add(budget(rep)))
	return nil
}

// installHook writes the hook where the image's python3 runs it: as a
// module and .pth line of the site directory rep.Site (a tmpfs the engine
// mounted), or as Dir/py/sitecustomize.py for PYTHONPATH.
func (in *initProc) installHook() error {
	rep := in.h.Report
	dir, module := rep.Dir+"/py", "sitecustomize"
	if rep.Site != "" {
		dir, module = rep.Site, rep.SiteModule
	}
	if err := os.MkdirAll(dir+"/__pycache__", 0o755); err != nil {
		return err
	}
	if err := writeNew(dir+"/"+module+".py", []byte(rep.Hook), 0o444); err != nil {
		return err
	}
	dirs := []string{dir + "/__pycache__", dir}
	if rep.Site != "" {
		if err := writeNew(dir+"/"+rep.SitePthName, []byte(rep.SitePth), 0o444); err != nil {
			return err
		}
		names := make([]string, 0, len(rep.SiteDist))
		for name := range rep.SiteDist {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if !filepath.IsLocal(name) || filepath.Clean(name) != name || strings.Count(name, "/") != 1 {
				return fmt.Errorf("site file %q", name)
			}
			sub := dir + "/" + filepath.Dir(name)
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
			if !slices.Contains(dirs, sub) {
				dirs = append([]string{sub}, dirs...)
			}
			if err := writeNew(dir+"/"+name, []byte(rep.SiteDist[name]), 0o444); err != nil {
				return err
			}
		}
	}
	in.bytecode(dir, module)
	for _, d := range dirs {
		if err := os.Chmod(d, 0o555); err != nil {
			return err
		}
	}
	return nil
}

// armWitness starts the kernel-side witness of reads of the planted
// files (package witness), after they are planted and before the program.
func (in *initProc) armWitness() {
	var files []witness.File
	for _, p := range in.h.Report.Witness {
		if _, planted := in.h.Report.Plant[p]; planted {
			files = append(files, witness.File{Path: p, Host: p})
		}
	}
	w, err := witness.Arm(files)
	if err != nil {
		in.witnessed.WitnessOff = err.Error()
		return
	}
	in.witness, in.witnessed.WitnessOn = w, len(files)
}

// checkWitness reads the witness once the program is dead, before the
// init's walk or any read of the files.
func (in *initProc) checkWitness() {
	for _, e := range in.witness.Check() {
		switch e.Kind {
		case witness.Read:
			in.witnessed.Read = append(in.witnessed.Read, e.Path)
		case witness.Altered:
			in.witnessed.Altered = append(in.witnessed.Altered, e.Path)
		}
	}
}

// maxPyc bounds the compiled hook.
const maxPyc = 1 << 20

// bytecode puts the compiled hook in py/__pycache__: the host's copy, or,
// when the header asks, what the image's python3 compiles now, sent back
// as the P frame. Without it the program compiles the hook itself: slower,
// the same hook.
func (in *initProc) bytecode(dir, module string) {
	rep := in.h.Report
	tag, pyc := rep.PycTag, rep.Pyc
	if pyc == nil && rep.Compile != "" {
		out := in.python(rep.Compile, strings.NewReader(rep.Hook), dir+"/"+module+".py", maxPyc)
		in.send('P', out)
		t, p, ok := strings.Cut(string(out), "\n")
		if !ok {
			return
		}
		tag, pyc = t, []byte(p)
		in.mark("hook compiled")
	}
	if pyc == nil || tag == "" || strings.ContainsAny(tag, "/\x00") || len(tag) > 40 {
		return
	}
	_ = writeNew(dir+"/__pycache__/"+module+"."+tag+".pyc", pyc, 0o444)
}

// python runs code with the image's python3 (-I -S, an empty
// environment, stdin from stdin, arg as its one argument if not ""),
// before any code of the program: its output, nil if it fails or passes
// max bytes.
func (in *initProc) python(code string, stdin io.Reader, arg string, max int) []byte {
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil
	}
	args := []string{"-I", "-S", "-c", code}
	if arg != "" {
		args = append(args, arg)
	}
	cmd := exec.Command(python, args...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout = &limited{&out, max + 64}
	if err := cmd.Start(); err != nil {
		return nil
	}
	t := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	err = cmd.Wait()
	t.Stop()
	if err != nil || out.Len() > max {
		return nil
	}
	return out.Bytes()
}

// startLoggedIn starts cmd from a thread whose login uid is the init's
// uid, the program's (package loginuid: getlogin() then answers the
// persona's user, as in a login session); the thread keeps it. The init is
// non-dumpable, which makes its /proc files root's: it is dumpable for the
// write alone, while no process but the init exists in the container (the
// program is not started yet, the init's helpers have ended), so nothing
// can use the moment to ptrace it or open its descriptors.
func startLoggedIn(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if uid := os.Getuid(); uid != 0 {
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err == nil {
			_ = loginuid.Set(uid) // best effort: absent in gVisor
			if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
				return fmt.Errorf("set non-dumpable: %w", err)
			}
		}
	}
	return cmd.Start()
}

// unguardedError: the guard was asked for and could not be installed;
// the program did not start.
type unguardedError struct{ why string }

func (e *unguardedError) Error() string { return "seccomp guard: " + e.why }

// startProgram starts cmd, the program at path (cmd.Args its argv), as the
// header asks: under clone3's ENOSYS filter (Clone3), through the exec
// shim for rlimits, and under the kernel witness's filter (Report.Execs)
// or the guard (Guard). An *unguardedError means the guard could not be
// had and nothing runs.
//
// The filter that notifies is installed by the shim, in the program's
// process, never by the init on itself: Go starts a process with vfork,
// whose caller keeps its P, not preemptible, until the child's execve
// returns, and with the init's own filter that execve waits for the
// init's listener. Served by the init, the answer then needs another P:
// none under GOMAXPROCS=1, and none while a stop-the-world (a GC) waits
// for the vforking one. The start hung so until the phase's timeout,
// with no output (attrs' venv and install phases on docker).
func (in *initProc) startProgram(cmd *exec.Cmd, path string) error {
	h := in.h
	if h.Clone3 {
		if err := seccomp.InstallClone3ENOSYS(); err != nil {
			return err
		}
	}
	execs := h.Report != nil && h.Report.Execs
	mode := shimPlain
	if h.Guard {
		mode = shimGuard
	} else if execs {
		mode = shimWatch
	}
	cmd.Path = path
	if h.RlimitAS <= 0 && h.RlimitNproc <= 0 && mode == shimPlain {
		return startLoggedIn(cmd)
	}
	cmd.Path = "/proc/self/exe"
	cmd.Args = append([]string{Bin, ExecArg, strconv.FormatInt(h.RlimitAS, 10), strconv.FormatInt(h.RlimitNproc, 10), mode, path}, cmd.Args...)
	if mode == shimPlain {
		return startLoggedIn(cmd)
	}
	// The shim's own setting first (Go reads the first GODEBUG; the shim
	// drops it): no asynchronous preemption, whose signals would restart
	// its execve while it waits for the answer, each time a notification.
	cmd.Env = append([]string{shimGodebug}, cmd.Env...)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("exec shim: socket pair: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "shim"), os.NewFile(uintptr(fds[1]), "shim")
	defer mine.Close()
	cmd.ExtraFiles = []*os.File{theirs} // fd 3 of the shim
	err = startLoggedIn(cmd)
	_ = theirs.Close()
	if err != nil {
		return err
	}
	fail := func(err error) error {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		return err
	}
	fd, why := recvListener(fds[0])
	if fd < 0 {
		if h.Guard {
			return fail(&unguardedError{why})
		}
		// The witness is evidence, not a layer: the program runs
		// without it, and the report says why.
		in.execsOff = why
	} else {
		w := &execWatch{fd: fd, own: 1, guard: h.Guard, report: execs}
		in.execs = w
		go w.serve(in)
	}
	if _, err := unix.Write(fds[0], []byte{'G'}); err != nil {
		return fail(fmt.Errorf("exec shim: %w", err))
	}
	return nil
}

// recvListener reads the shim's listener ('L' with the descriptor), or
// why it has none ('E' and the error); fd is -1 then.
func recvListener(sock int) (fd int, why string) {
	buf, oob := make([]byte, 512), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	for err == unix.EINTR {
		// A signal to the init (the runtime's own) is no answer: had the
		// init gone on, it would close its end before the shim's answer,
		// and the shim, failing to send it, ends the run with exit 127
		// ("exec shim: broken pipe", seen under gVisor in Kubernetes).
		n, oobn, _, _, err = unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	}
	if err != nil || n == 0 {
		return -1, fmt.Sprintf("the exec shim sent no seccomp listener (%v)", err)
	}
	if buf[0] != 'L' {
		return -1, strings.ToValidUTF8(string(buf[1:n]), "?")
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Sprintf("the exec shim's listener: %v", err)
	}
	rights, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(rights) != 1 {
		for _, r := range rights {
			_ = unix.Close(r)
		}
		return -1, fmt.Sprintf("the exec shim's listener: %v", err)
	}
	return rights[0], ""
}

// limited writes to w up to n bytes, then one more to say there was more.
type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if k := l.n - l.w.Len(); k > 0 {
		l.w.Write(p[:min(len(p), k)])
	}
	return len(p), nil
}

// sendInterpreter sends, before the program starts, the sha256 of the
// interpreter file it is started with (path resolved; a Python by its
// name only: a shell of `moat test --command` is no interpreter), as an
// "interpreter" exec frame: the report then knows the runtime's
// interpreter by its content, as native's does, and a venv's python the
// run made (a copy or a link of it) runs nothing else.
func (in *initProc) sendInterpreter(path string) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil || !isPythonName(filepath.Base(real)) {
		return
	}
	f, err := os.Open(real)
	if err != nil {
		return
	}
	defer f.Close()
	var h seccomp.ExecHashes
	if sum, failed := h.Exec(f, nil); sum != "" && !failed {
		b, _ := json.Marshal(ExecEvent{Call: CallInterpreter, Path: real, SHA256: sum})
		in.send('k', b)
	}
}

// isPythonName: python, python3, python3.11, pypy3... by name.
func isPythonName(base string) bool {
	rest, ok := strings.CutPrefix(base, "python")
	if !ok {
		rest, ok = strings.CutPrefix(base, "pypy")
	}
	return ok && strings.Trim(rest, "0123456789.") == ""
}

func budget(rep *Report) time.Duration { return time.Duration(rep.BudgetS * float64(time.Second)) }

// run starts the program, relays its output, reaps every process, and
// sends what comes after the program: the report, /work, the exit frame.
func (in *initProc) run() int {
	h := in.h
	// The program's PATH finds the program, as execvpe would.
	for _, kv := range h.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			_ = os.Setenv("PATH", v)
		}
	}
	ro, wo, err1 := os.Pipe()
	re, we, err2 := os.Pipe()
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintf(os.Stderr, "moat-init: pipes: %v\n", err)
		return 125
	}
	cmd := &exec.Cmd{Args: h.Argv, Env: h.Env, Dir: WorkDir, Stdin: in.stdin, Stdout: wo, Stderr: we}
	sc, nnp := confinement()
	// The layers a runtime may leave out without failing the container
	// are checked here, before the program exists: with Confined, one not
	// in effect means the program never starts.
	var unmet []Unmet
	if h.Expect != nil {
		unmet = h.Expect.check()
	}
	if h.Confined && (sc != 2 || nnp != 1 || len(unmet) > 0) {
		var why []string
		if sc != 2 || nnp != 1 {
			why = append(why, fmt.Sprintf("the container's seccomp profile is not in effect (/proc/self/status: Seccomp %d, NoNewPrivs %d): the runtime did not apply it", sc, nnp))
		}
		for _, u := range unmet {
			why = append(why, u.Layer+": "+u.Why)
		}
		in.send('x', exitJSON(Exit{Seccomp: sc, NoNewPrivs: nnp, Refused: true, Checked: h.Expect != nil, Unmet: unmet,
			Error: strings.Join(why, "; ")}))
		_, _ = io.Copy(io.Discard, in.ctl)
		return 0
	}
	path, err := exec.LookPath(h.Argv[0])
	if err == nil && h.Report != nil && h.Report.Execs {
		in.sendInterpreter(path)
	}
	if err == nil {
		<-in.signals
		var restore func() error
		if restore, err = programOOM(in.oom); err == nil {
			err = in.startProgram(cmd, path)
			if rerr := restore(); rerr != nil && err == nil {
				// The init would stay the OOM killer's first choice.
				_ = cmd.Process.Kill()
				_, _ = cmd.Process.Wait()
				err = rerr
			}
		}
		var ug *unguardedError
		if errors.As(err, &ug) {
			// The profile lets the guarded calls through: without
			// the filter the program would be free to make them.
			_ = wo.Close()
			_ = we.Close()
			in.send('x', exitJSON(Exit{Seccomp: sc, NoNewPrivs: nnp, Refused: true, Unguarded: true,
				Error: "the init's seccomp guard could not be installed (" + ug.why + "): the program was not started"}))
			_, _ = io.Copy(io.Discard, in.ctl)
			return 0
		}
	}
	_ = wo.Close()
	_ = we.Close()
	if err != nil {
		in.send('x', exitJSON(Exit{Seccomp: sc, NoNewPrivs: nnp, Error: err.Error(), Errno: errnoOf(err), Checked: h.Expect != nil, Unmet: unmet}))
		return 0
	}
	in.mark("program started")
	// The host's clock for the timeout runs from here, as this init's
	// (Header.StopS): a container that started late is not stopped
	// from outside before this init stopped the program and sent the
	// report.
	in.send('g', nil)
	pid := cmd.Process.Pid
	// The signals the runtime leaves at their default (32 and 34) could
	// still kill this init on some kernels when the program sends one
	// (package pid1): ignored from now on, once the program started with
	// every signal at its default; its startup runs no untrusted code.
	if _, err := pid1.IgnoreDefaults(); err != nil {
		_ = unix.Kill(-1, unix.SIGKILL)
		in.send('x', exitJSON(Exit{Error: "signals: " + err.Error()}))
		return 0
	}
	var pidsHit, timedOut atomic.Bool
	watchDone := make(chan struct{})
	// At the stop (the program's clock, or the pids limit this init
	// keeps, the program still running), the daemons are listed before
	// everything is killed: a daemon that outlasts the run rather than
	// the program is named too. The first stop's list is kept.
	var stopMu sync.Mutex
	var atStop []survivors.Process
	stopListed := false
	listed := func() {}
	if in.fifo != nil {
		listed = func() {
			sid, _ := unix.Getsid(0)
			ds := survivors.AtStop(pid, []int{sid, pid}, nil)
			stopMu.Lock()
			if !stopListed {
				atStop, stopListed = ds, true
			}
			stopMu.Unlock()
		}
	}
	// Before a stop kills everything: what each process that ran an
	// exec and made no watched call since ran (execWatch.sweep).
	listOnly := listed
	listed = func() { in.execs.sweep(in); listOnly() }
	if h.Pids > 0 {
		go pid1.WatchTasks(h.Pids, &pidsHit, watchDone, listed)
	}
	if h.StopS > 0 {
		go stopAt(time.Duration(h.StopS*float64(time.Second)), &timedOut, watchDone, listed)
	}
	// A backstop: moat kills the container first.
	backstop := func() {
		_ = unix.Kill(-1, unix.SIGKILL)
		os.Exit(0)
	}
	stopBackstop := time.AfterFunc(time.Duration((h.TimeoutS+30)*float64(time.Second)), backstop).Stop

	var relays sync.WaitGroup
	for _, p := range []struct {
		f *os.File
		t byte
	}{{ro, 'o'}, {re, 'e'}} {
		relays.Add(1)
		go func() {
			defer relays.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := p.f.Read(buf)
				if n > 0 {
					in.send(p.t, buf[:n])
				}
				if err != nil {
					return
				}
			}
		}()
	}
	auditDone := make(chan struct{})
	if in.fifo != nil {
		go func() {
			defer close(auditDone)
			buf := make([]byte, 64<<10)
			for {
				n, err := in.fifo.Read(buf)
				in.relayAudit(buf[:max(n, 0)])
				if err != nil {
					return
				}
			}
		}()
	}

	// With the report, what outlives the program is listed before it is
	// killed. The program runs in the init's session (runc's setsid), or
	// in its own if it called setsid itself; any other is a daemon's.
	var outlived *[]survivors.Process
	if in.fifo != nil {
		outlived = &in.outlived
	}
	status, ru := reap(pid, outlived, func() { in.execs.sweep(in) })
	stopMu.Lock()
	if len(in.outlived) == 0 {
		in.outlived = atStop
	}
	stopMu.Unlock()
	in.reserve.release() // the room for what follows
	close(watchDone)
	if h.AfterS > 0 && stopBackstop() {
		// The host's timeout was the program's: what follows has its own.
		time.AfterFunc(time.Duration((h.AfterS+30)*float64(time.Second)), backstop)
	}
	relays.Wait() // every writer is dead: the pipes are at their end
	in.mark("program reaped")
	in.send('r', nil)
	if in.fifo != nil {
		// Everything else is dead: what the hook wrote is in the FIFO.
		_ = in.fifo.SetReadDeadline(time.Unix(1, 0))
		<-auditDone
		in.drainAudit()
		in.sendWalks()
		in.mark("walks sent")
	}
	if h.Out {
		// Buffered: else each tar header of a tree of many small entries
		// is a frame, and a write to the container's stdout, of its own
		// (slow where each write crosses a Sentry and a node's streams).
		w := bufio.NewWriterSize(framer{in, 't'}, 256<<10)
		// What Pack leaves out (caps, unreadable files) is named in the
		// stream and the walk goes on; its error needs no answer here:
		// the host lists it, and a stream cut short lacks Pack's end
		// record, which the host reports as an incomplete copy.
		_ = treecopy.Pack(w, WorkDir, treecopy.Limits{Bytes: h.OutBytes, Files: h.OutFiles})
		_ = w.Flush()
		in.send('t', nil)
		in.mark("work sent")
	}
	if h.Trace {
		var b strings.Builder
		for _, m := range in.marks {
			fmt.Fprintf(&b, "%d %s\n", m.ns, m.what)
		}
		in.send('T', []byte(b.String()))
	}
	ex := Exit{Seccomp: sc, NoNewPrivs: nnp, MaxRSS: ru.Maxrss * 1024, PidsHit: pidsHit.Load(), TimedOut: timedOut.Load(), Checked: h.Expect != nil, Unmet: unmet,
		Guarded: h.Guard && in.execs != nil && in.execs.guard}
	if status.Signaled() {
		ex.Signal = int(status.Signal())
	} else {
		ex.Exit = status.ExitStatus()
	}
	in.send('x', exitJSON(ex))
	// The host ends the control stream when it has the exit frame.
	_, _ = io.Copy(io.Discard, in.ctl)
	return 0
}

// confinement reads the seccomp mode of this process from
// /proc/self/status and its no_new_privs from prctl (gVisor's status has
// no NoNewPrivs); -1 each when it cannot.
func confinement() (seccomp, nnp int) {
	seccomp, nnp = -1, -1
	if n, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); err == nil {
		nnp = n
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			continue
		}
		if k == "Seccomp" {
			seccomp = n
		}
	}
	return
}

// reap waits for every child until none is left and returns the
// program's status and resource usage (its own and its waited-for
// descendants'). When the program ends, everything else is killed:
// nothing it started may outlive it or keep writing (this process is the
// only one kill(-1) spares). What is left then is listed into *outlived
// first (nil: not listed): a daemon would act after the run, where no
// report sees it; before is called before the kill.
func reap(pid int, outlived *[]survivors.Process, before func()) (unix.WaitStatus, unix.Rusage) {
	var status unix.WaitStatus
	var usage unix.Rusage
	for {
		var ws unix.WaitStatus
		var ru unix.Rusage
		p, err := unix.Wait4(-1, &ws, 0, &ru)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // ECHILD: nothing left
			return status, usage
		}
		if p == pid {
			status, usage = ws, ru
			if outlived != nil {
				sid, _ := unix.Getsid(0)
				*outlived = survivors.Wait(pid, []int{sid, pid}, nil)
			}
			before()
			_ = unix.Kill(-1, unix.SIGKILL)
		}
	}
}

func exitJSON(e Exit) []byte {
	b, _ := json.Marshal(e)
	return b
}

// errnoOf is the errno behind a failed start, as the host maps it to an
// exit status (ENOENT 127; EACCES, ENOEXEC, EPERM 126).
func errnoOf(err error) int {
	var en syscall.Errno
	switch {
	case errors.As(err, &en):
		return int(en)
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return int(unix.ENOENT)
	case errors.Is(err, fs.ErrPermission):
		return int(unix.EACCES)
	}
	return 0
}

// relayAudit sends what the hook wrote, up to the report's byte cap.
func (in *initProc) relayAudit(b []byte) {
	if len(b) == 0 {
		return
	}
	if in.relayed >= in.h.Report.MaxAuditBytes {
		in.auditCut += int64(len(b))
		return
	}
	in.relayed += int64(len(b))
	in.send('a', b)
}

// drainAudit relays what the FIFO still holds, once its reader has stopped.
func (in *initProc) drainAudit() {
	rc, err := in.fifo.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 64<<10)
	for {
		var n int
		if err := rc.Read(func(fd uintptr) bool {
			n, _ = unix.Read(int(fd), buf)
			return true // one attempt: never wait
		}); err != nil || n <= 0 {
			return
		}
		in.relayAudit(buf[:n])
	}
}

// maxLink bounds a link's target in an entry (observe.MaxLink).
const maxLink = 4096

// entry is one walked path: [path, size, mode, ino, ctime_ns] in JSON,
// and a symbolic link's target after them.
type entry struct {
	path  string
	size  int64
	mode  uint32
	ino   uint64
	ctime int64
	link  string
}

func (e entry) MarshalJSON() ([]byte, error) {
	p, err := json.Marshal(e.path)
	if err != nil {
		return nil, err
	}
	if e.link != "" {
		l, err := json.Marshal(e.link)
		if err != nil {
			return nil, err
		}
		return fmt.Appendf(nil, "[%s,%d,%d,%d,%d,%s]", p, e.size, e.mode, e.ino, e.ctime, l), nil
	}
	return fmt.Appendf(nil, "[%s,%d,%d,%d,%d]", p, e.size, e.mode, e.ino, e.ctime), nil
}

func (e entry) same(o entry) bool {
	return e.size == o.size && e.mode == o.mode && e.ino == o.ino && e.ctime == o.ctime && e.link == o.link
}

// walk lists every root and every entry under it, never following a
// link, up to MaxEntries, MaxWalkBytes of JSON and the deadline; it says
// why it stopped short ("" when it did not). The hook's directory is
// walked as its own root only (the host checks it apart), first, so that
// nothing the program makes elsewhere pushes it out of the walk.
func walk(rep *Report, deadline time.Time) ([]entry, string) {
	out := []entry{}
	var size int64
	add := func(p string) (string, bool) {
		switch {
		case len(out) >= rep.MaxEntries:
			return fmt.Sprintf("stopped at its cap of %d entries", rep.MaxEntries), false
		case rep.MaxWalkBytes > 0 && size > rep.MaxWalkBytes:
			return fmt.Sprintf("stopped at its cap of %d bytes", rep.MaxWalkBytes), false
		case time.Now().After(deadline):
			return fmt.Sprintf("stopped at its time budget of %gs", rep.BudgetS), false
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			return "", true
		}
		e := entry{p, st.Size, st.Mode, st.Ino, st.Ctim.Nano(), ""}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			if l, err := os.Readlink(p); err == nil {
				e.link = l[:min(len(l), maxLink)]
			}
		}
		if rep.MaxWalkBytes > 0 {
			b, _ := e.MarshalJSON()
			size += int64(len(b)) + 1
		}
		out = append(out, e)
		return "", true
	}
	deep := ""
	for _, root := range rep.Roots {
		if cut, ok := add(root); !ok {
			return out, cut
		}
		stack := []string{root}
		for len(stack) > 0 {
			d := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			f, err := os.Open(d)
			if err != nil {
				continue
			}
			names, _ := f.Readdirnames(-1)
			_ = f.Close()
			for _, name := range names {
				p := d + "/" + name
				if p == rep.Dir {
					continue
				}
				n := len(out)
				if cut, ok := add(p); !ok {
					return out, cut
				}
				if len(out) > n && out[n].mode&unix.S_IFMT == unix.S_IFDIR {
					if rep.MaxDepth > 0 && strings.Count(p[len(root):], "/") >= rep.MaxDepth {
						if deep == "" {
							deep = p
						}
						continue // a tree past MaxDepth: not below here
					}
					stack = append(stack, p)
				}
			}
		}
	}
	if deep != "" {
		return out, fmt.Sprintf("a tree deeper than %d levels was not walked below %s", rep.MaxDepth, deep[:min(len(deep), 200)])
	}
	return out, ""
}

// sendWalks sends both walks ('f' frames, an empty one at the end) and the
// data of every regular file that is new or changed ('c', see Content).
func (in *initProc) sendWalks() {
	rep := in.h.Report
	in.checkWitness()
	deadline := time.Now().Add(budget(rep))
	after, afterCut := walk(rep, deadline)
	ws := in.witnessed
	ws.Before, ws.After, ws.BeforeCut, ws.AfterCut, ws.AuditCut = in.before, after, in.beforeCut, afterCut, in.auditCut
	ws.ExecsOn, ws.ExecsOff, ws.ExecsLost = in.execs != nil, in.execsOff, in.execs.lost()
	ws.Outlived = in.outlived
	b, _ := json.Marshal(ws)
	_, _ = framer{in, 'f'}.Write(b)
	in.send('f', nil)
	old := make(map[string]entry, len(in.before))
	for _, e := range in.before {
		old[e.path] = e
	}
	var changed []string
	xleft := int64(xattr.MaxTotal)
	for _, e := range after {
		if o, ok := old[e.path]; ok && o.same(e) {
			continue
		}
		if e.mode&unix.S_IFMT != unix.S_IFLNK && xleft > 0 {
			in.sendXattrs(e.path, &xleft)
		}
		if e.mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		changed = append(changed, e.path)
	}
	// The host's diff reads them in this order, and its budget is this
	// budget: what it reads is what was sent.
	slices.SortFunc(changed, func(a, b string) int {
		if scanorder.Less(a, b) {
			return -1
		}
		return 1
	})
	c := content{in: in, left: rep.ScanTotal, frames: MaxContentFrames, deadline: deadline, buf: make([]byte, ContentChunk)}
	for _, p := range changed {
		if !c.file(p) {
			return
		}
	}
	// Then the unchanged sources of the .pyc files written into their
	// caches, within the bounds of the bytecode verification
	// (report.VerifyBytecode): the host compiles each and compares it
	// with its .pyc. One not sent is not verified (its finding stays
	// high).
	now := make(map[string]entry, len(after))
	for _, e := range after {
		now[e.path] = e
	}
	var n int
	var total int64
	for _, p := range changed {
		src, _, ok := pycpath.Source(p)
		o, was := old[src]
		e, is := now[src]
		if !ok || !was || !is || !o.same(e) || e.mode&unix.S_IFMT != unix.S_IFREG || e.size > pycpath.MaxFile ||
			n >= pycpath.MaxPairs || total+e.size > pycpath.MaxBytes {
			continue
		}
		n, total = n+1, total+e.size
		delete(old, src) // once
		if !c.file(src) {
			return
		}
	}
}

// sendXattrs sends the extended attributes of the entry at path (new or
// changed: a file or a directory), one 'X' frame each (Xattrs), while
// *left, the bytes of names and values still to send, lasts. What could
// not be read goes as a frame with the name empty: the host says its
// search was cut.
func (in *initProc) sendXattrs(path string, left *int64) {
	xs, err := xattr.Read(path)
	if err != nil {
		xs = append(xs, xattr.Attr{})
	}
	for _, x := range xs {
		if *left <= 0 {
			x = xattr.Attr{} // past the budget: said, not sent
		}
		*left -= int64(len(x.Name) + len(x.Value))
		b := make([]byte, 0, len(path)+len(x.Name)+2+len(x.Value))
		b = append(append(append(append(append(b, path...), 0), x.Name...), 0), x.Value...)
		in.send('X', b)
		if *left <= 0 {
			return
		}
	}
}

// content sends the data of changed files ('c' frames), within what is
// left of the data budget and the frames, and before the deadline.
type content struct {
	in       *initProc
	left     int64
	frames   int
	deadline time.Time
	buf      []byte
}

// file sends the data of the regular file at path (never through a link,
// never waiting on a FIFO put in its place) and its end; it reports false
// once the budget, the frames or the time are spent. A file that cannot
// be opened is skipped: the host, given nothing of it, says it was not
// read.
func (c *content) file(path string) bool {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return true
	}
	var off int64
	for off < st.Size {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // a hole to the end
		}
		end := st.Size
		if err != nil {
			start = off // no holes told (EINVAL): all data
		} else if h, err := unix.Seek(fd, start, unix.SEEK_HOLE); err == nil && h > start {
			end = min(h, st.Size)
		}
		for off = start; off < end; {
			n := min(end-off, int64(len(c.buf)), c.left)
			if n <= 0 || !c.room() {
				return false
			}
			k, err := unix.Pread(fd, c.buf[:n], off)
			if err != nil || k <= 0 {
				return c.end(path, off) // shorter than it was: its end
			}
			c.send(path, off, c.buf[:k])
			c.left -= int64(k)
			off += int64(k)
		}
	}
	return c.end(path, max(off, st.Size))
}

// room says whether one more frame may go.
func (c *content) room() bool {
	return c.frames > 0 && time.Now().Before(c.deadline)
}

// end sends a file's end at off.
func (c *content) end(path string, off int64) bool {
	if !c.room() {
		return false
	}
	c.send(path, off, nil)
	return true
}

func (c *content) send(path string, off int64, data []byte) {
	c.frames--
	b := make([]byte, 8, 8+len(path)+1+len(data))
	binary.BigEndian.PutUint64(b, uint64(off))
	b = append(append(append(b, path...), 0), data...)
	c.in.send('c', b)
}

// execShim sets RLIMIT_AS and executes the program: args are the limit,
// the program's path and its argv.
//
// This process is a Go program whose address space may already exceed the
// limit (the runtime reserves much it never touches), so once the limit is
// set no allocation may happen: a failed mmap is a fatal runtime error, not
// an error value. Everything execve needs is built first; the limit and the
// exec are raw system calls with nothing between them (no allocation, so
// no garbage collection either).
func execShim(args []string) int {
	if len(args) < 5 {
		fmt.Fprintln(os.Stderr, "moat-init: exec shim: missing arguments")
		return 127
	}
	as, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moat-init: exec shim: limit %q: %v\n", args[0], err)
		return 127
	}
	nproc, err := strconv.ParseUint(args[1], 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moat-init: exec shim: limit %q: %v\n", args[1], err)
		return 127
	}
	mode, env := args[2], os.Environ()
	if mode != shimPlain {
		if len(env) > 0 && env[0] == shimGodebug {
			env = env[1:] // the program's environment, as the init had it
		}
		if err := shimListen(mode); err != nil {
			fmt.Fprintf(os.Stderr, "moat-init: exec shim: %v\n", err)
			return 127
		}
	}
	args = args[1:] // past the mode: args[2] is the path, args[3:] the argv
	path, err := unix.BytePtrFromString(args[2])
	if err != nil {
		fmt.Fprintf(os.Stderr, "moat-init: exec shim: %v\n", err)
		return 127
	}
	argv, err := syscall.SlicePtrFromStrings(args[3:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "moat-init: exec shim: %v\n", err)
		return 127
	}
	envv, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		fmt.Fprintf(os.Stderr, "moat-init: exec shim: %v\n", err)
		return 127
	}
	if nproc > 0 {
		// Before RLIMIT_AS: it allocates nothing either way.
		if err := unix.Setrlimit(unix.RLIMIT_NPROC, &unix.Rlimit{Cur: nproc, Max: nproc}); err != nil {
			fmt.Fprintf(os.Stderr, "moat-init: exec shim: RLIMIT_NPROC: %v\n", err)
			return 127
		}
	}
	if as == 0 {
		err := unix.Exec(args[2], args[3:], env)
		fmt.Fprintf(os.Stderr, "moat-init: exec shim: %v\n", err)
		return 127
	}
	lim := unix.Rlimit{Cur: as, Max: as}
	runtime.LockOSThread()
	_, _, e := unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_AS, uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
	if e == 0 {
		_, _, e = unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(path)),
			uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])))
	}
	// Only an error comes back; the message is written without the
	// allocator where it can be (the limit may be in force).
	_, _ = unix.Write(2, shimFailed)
	_, _ = unix.Write(2, []byte(e.Error()+"\n"))
	return 127
}

// Modes of the exec shim (its third argument): only the limits, or also
// the kernel witness's filter, or the guard, installed in the shim and its
// listener sent to the init on fd 3 (see startProgram).
const (
	shimPlain = "-"
	shimWatch = "watch"
	shimGuard = "guard"
)

// shimGodebug leads the environment of a shim that installs a filter.
const shimGodebug = "GODEBUG=asyncpreemptoff=1"

// shimListen installs the filter of mode on every thread of the shim and
// sends its listener on fd 3 ('L'), or why not ('E'); then it waits for
// the init's go-ahead ('G', once the init serves the listener, or goes on
// without it). Nothing else comes from fd 3: it is closed before the exec.
func shimListen(mode string) error {
	const sock = 3
	defer unix.Close(sock)
	install := seccomp.InstallExecWatch
	switch mode {
	case shimWatch:
	case shimGuard:
		install = seccomp.InstallGuard
	default:
		return fmt.Errorf("mode %q", mode)
	}
	runtime.LockOSThread() // never unlocked: the exec follows
	fd, err := install()
	if err != nil {
		if _, err := unix.Write(sock, append([]byte{'E'}, err.Error()...)); err != nil {
			return err
		}
	} else {
		err := unix.Sendmsg(sock, []byte{'L'}, unix.UnixRights(fd), nil, 0)
		_ = unix.Close(fd)
		if err != nil {
			return fmt.Errorf("send the seccomp listener: %w", err)
		}
	}
	var b [1]byte
	if n, _ := unix.Read(sock, b[:]); n != 1 || b[0] != 'G' {
		return errors.New("the init did not let the program start")
	}
	return nil
}

// shimFailed prefixes the exec shim's error, allocated before any limit.
var shimFailed = []byte("moat-init: exec shim: ")

// closeOnExecFrom marks every descriptor from fd on close-on-exec.
func closeOnExecFrom(fd int) {
	if unix.CloseRange(uint(fd), ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	// Before Linux 5.11: one at a time.
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil && n >= fd {
			unix.CloseOnExec(n)
		}
	}
}

func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// stopAt kills every process but this init once d has passed, unless
// done is closed first, and sets timedOut; then again at every pid1.TasksPoll
// until done (a fork racing the kill may leave a child). listed is called
// once before the first kill (what outlives the run is listed there).
func stopAt(d time.Duration, timedOut *atomic.Bool, done <-chan struct{}, listed func()) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	timedOut.Store(true)
	listed()
	tick := time.NewTicker(pid1.TasksPoll)
	defer tick.Stop()
	for {
		_ = unix.Kill(-1, unix.SIGKILL)
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}
