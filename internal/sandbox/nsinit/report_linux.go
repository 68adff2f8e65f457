package nsinit

import (
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
	"github.com/moat-sandbox/moat/internal/observe/xattr"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

// The behaviour report, init side. The init (pid 1, trusted) collects
// three kinds of event while the program runs and sends them to the parent
// before its exit message:
//
//   - "audit": lines from the Python audit hook (internal/observe/audit), read from
//     a FIFO. Claims by the program; bounded in rate and total.
//   - "kernel": seccomp user notifications. The filter of the native
//     backend is seccomp.NotifyProgram: every execve, execveat and connect,
//     and every syscall of the deny list, stops and waits for the init,
//     which reads the path or address from /proc/PID/mem, records it, and
//     answers: continue, or the deny list's errno. The program cannot get
//     past this with ctypes or native code. What the init reads is evidence,
//     not enforcement: another thread of the caller may change the memory
//     between the read and the kernel's own (TOCTOU), so a recorded path or
//     address is what the memory said at the time of the read, and the
//     listener never decides anything from it.
//   - "fs": a diff of /work, /home/sandbox, /tmp and /dev/shm taken after
//     the program and everything it started are dead, with the content of
//     persistence-relevant files and a scan for the planted honeytokens.

// Bounds on what the init records per run.
// (The shared ones are in internal/observe.)
const (
	maxKernelEvents = kbudget.MaxEvents
	fsDiffBudget    = observe.FSBudget
	eventsPerMsg    = 32
)

// reporter collects the events of one run in the init.
type reporter struct {
	cfg *ReportConfig
	uid int
	gid int

	mu      sync.Mutex
	audit   *observe.Collector
	kernel  []moat.Event
	dropped int

	fifo     *os.File
	readDone chan struct{}
	// endMark, written by the init itself once every writer is dead,
	// tells the reader that all that was written has been read. It holds
	// a secret of the init, so the program cannot end the reading early.
	endMark []byte
	before  observe.Snapshot
	argv0   string
	// pythonpath is the hook's directory when it goes on PYTHONPATH
	// (hookEnv), "" when a site directory runs it.
	pythonpath string
	witness    *observe.Witness // the planted files' times; nil: reads rest on the hook
	armed      moat.Event       // the witness on, or why not
}

// startReport plants the honeytokens, installs the audit hook and its
// FIFO, and takes the "before" picture of the writable directories. It
// runs before the root is made read-only. A nil cfg (events switched off)
// returns nil; every method of a nil *reporter does nothing.
func startReport(cfg *Config, argv0 string) (*reporter, error) {
	if cfg.Report == nil {
		return nil, nil
	}
	r := &reporter{cfg: cfg.Report, uid: cfg.UID, gid: cfg.GID, argv0: argv0}
	r.audit = observe.NewCollector(r.now)
	for _, p := range sortedKeys(r.cfg.Files) {
		if !strings.HasPrefix(p, home+"/") {
			return nil, fmt.Errorf("honeytoken %s outside home", p)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		for d := filepath.Dir(p); d != home && d != "/"; d = filepath.Dir(d) {
			_ = os.Chown(d, cfg.UID, cfg.GID)
		}
		if err := os.WriteFile(p, []byte(r.cfg.Files[p]), 0o600); err != nil {
			return nil, err
		}
		if err := os.Chown(p, cfg.UID, cfg.GID); err != nil {
			return nil, err
		}
	}
	r.armWitness()
	if err := r.installHook(); err != nil {
		return nil, err
	}
	if err := unix.Mkfifo(hookRoot+"/audit", 0o622); err != nil {
		return nil, fmt.Errorf("audit fifo: %w", err)
	}
	if err := os.Chmod(hookRoot+"/audit", 0o622); err != nil { // umask-proof
		return nil, err
	}
	// O_RDWR: the init is a writer too, so the FIFO never reports EOF and
	// opens for writing never fail with ENXIO while the program runs.
	f, err := os.OpenFile(hookRoot+"/audit", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("audit fifo: %w", err)
	}
	r.fifo = f
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	r.endMark = []byte(fmt.Sprintf("\x00moat-end %x\n", nonce))
	r.readDone = make(chan struct{})
	go r.readAudit()
	r.before = observe.Walk(diffRoots(), time.Now().Add(fsDiffBudget))
	return r, nil
}

// installHook puts the audit hook where every interpreter of the runtime
// runs it: on the site directory cfg.Site (an overlay, read-only, with
// the hook's module and .pth line above the directory's own files), or,
// without one, in HookRoot/py for PYTHONPATH (hookEnv).
func (r *reporter) installHook() error {
	write := func(dir, name string, b []byte) error {
		if err := os.MkdirAll(filepath.Dir(dir+"/"+name), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dir+"/"+name, b, 0o644)
	}
	if site := r.cfg.Site; site != "" && path.IsAbs(site) && path.Clean(site) == site {
		dir := hookRoot + "/site"
		err := write(dir, audit.Module+".py", []byte(audit.Hook()))
		if err == nil {
			err = write(dir, audit.PthFile, []byte(audit.PthLine(hookRoot+"/audit")))
		}
		tag := ""
		if bc := r.cfg.Bytecode; err == nil && bc != nil {
			err, tag = write(dir, bc.NameFor(audit.Module), bc.Data), bc.Tag
		}
		// The editable install's metadata beside its .pth (audit.Dist).
		for name, data := range audit.Dist(audit.PthLine(hookRoot+"/audit"), audit.Hook(), tag) {
			if err == nil {
				err = write(dir, name, []byte(data))
			}
		}
		if err != nil {
			return err
		}
		// The hook's directory is read-only already (the root is); the
		// overlay has no upper layer, so it cannot be written either.
		err = unix.Mount("overlay", site, "overlay", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV,
			"lowerdir="+dir+":"+site)
		if err == nil {
			r.installStartup(write)
			return nil
		}
		_ = os.RemoveAll(dir)
	}
	r.pythonpath = hookRoot + "/py"
	if err := write(r.pythonpath, "sitecustomize.py", []byte(audit.Hook())); err != nil {
		return err
	}
	if bc := r.cfg.Bytecode; bc != nil {
		return write(r.pythonpath, bc.Name(), bc.Data)
	}
	return nil
}

// installStartup puts cfg.Startup over the runtime's encodings package
// (a read-only overlay of its directory with the new __init__.py and its
// .pyc above the package's own files), so that interpreters started with
// -S install the hook too. Best effort: without it they run as before.
func (r *reporter) installStartup(write func(dir, name string, b []byte) error) {
	st := r.cfg.Startup
	if st == nil || !path.IsAbs(st.Path) || path.Clean(st.Path) != st.Path || path.Base(st.Path) != "__init__.py" {
		return
	}
	pkg := path.Dir(st.Path)
	if fi, err := os.Lstat(pkg); err != nil || !fi.IsDir() {
		return
	}
	dir := hookRoot + "/lib"
	err := write(dir, "__init__.py", st.Source)
	if err == nil {
		err = write(dir, st.PycName(), st.Pyc)
	}
	if err == nil {
		err = unix.Mount("overlay", pkg, "overlay", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "lowerdir="+dir+":"+pkg)
	}
	if err != nil {
		_ = os.RemoveAll(dir)
	}
}

// hookEnv returns the program's environment with the hook's directory on
// PYTHONPATH where no site directory runs it.
func (r *reporter) hookEnv(env []string) []string {
	if r == nil || r.pythonpath == "" {
		return env
	}
	return observe.WithHookPath(append([]string(nil), env...), r.pythonpath)
}

// armWitness starts the kernel-side witness of the planted files' reads
// (observe.Witness). If it cannot, the run goes on and the report says
// that reads of the planted files rest on the audit hook alone.
func (r *reporter) armWitness() {
	files := observe.TokenFiles(r.cfg.Tokens, r.cfg.Files, func(p string) string { return p })
	r.witness, r.armed = observe.ArmWitnessEvent(files)
}

// reportFiles are the files outside the writable directories that the
// program must be able to open for writing: the audit FIFO.
func reportFiles() []string {
	if fi, err := os.Lstat(hookRoot + "/audit"); err == nil && fi.Mode()&fs.ModeNamedPipe != 0 {
		return []string{hookRoot + "/audit"}
	}
	return nil
}

func (r *reporter) now() int64 {
	return (MonoNow() - r.cfg.StartMono) / 1e6
}

// readAudit drains the FIFO for the whole run: it must never stop reading,
// or the program's writes would block (the hook writes blocking: a lagging
// reader slows the program, none of its events is lost).
func (r *reporter) readAudit() {
	defer close(r.readDone)
	r.audit.ReadUntil(r.fifo, r.endMark)
}

func (r *reporter) drop() { r.audit.Drop(1) }

func (r *reporter) addKernel(ev moat.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.kernel) >= maxKernelEvents {
		r.dropped++
		return
	}
	r.kernel = append(r.kernel, ev)
}

// installSeccomp installs the filter: with a listener when the report is
// on and the kernel can (Linux 5.7), else the plain deny list. Both give
// the program the same errnos. The listener is served by the parent
// (notify_linux.go), which takes it with pidfd_getfd: the parent is
// outside the sandbox's Landlock domain and pid namespace, so it may read
// /proc/PID/mem of the program's processes, which no thread of the init
// can (each init thread has a Landlock domain of its own, and only the
// main thread's is an ancestor of the program's). Until the parent
// serves it, the init's own execve of the interpreter waits.
func (r *reporter) installSeccomp(plain func() (int, error), send func(any) error) (int, error) {
	if r == nil {
		return plain()
	}
	fd, n, err := seccomp.InstallNotify()
	if err != nil {
		// Nothing was installed; the deny list still must be.
		r.addKernel(moat.Event{Source: "moat", Kind: "kernel-events-unavailable", Detail: audit.Clean(err.Error(), 300)})
		return plain()
	}
	if err := send(Message{Kind: "listener", ListenerFD: fd}); err != nil {
		return 0, err
	}
	return n, nil
}

func diffRoots() []observe.Root {
	return []observe.Root{{Path: WorkDir, Host: WorkDir}, {Path: home, Host: home}, {Path: TmpDir, Host: TmpDir}, {Path: "/dev/shm", Host: "/dev/shm"}}
}

// finish stops the audit reader, diffs the file system, and sends every
// event to the parent. The program and all it started are dead.
func (r *reporter) finish(send func(any) error) {
	if r == nil {
		return
	}
	// Every writer is dead: what they wrote is in the pipe already, and
	// the end mark goes in behind it. The deadline is only a backstop.
	_, _ = r.fifo.Write(r.endMark)
	_ = r.fifo.SetReadDeadline(time.Now().Add(time.Second))
	<-r.readDone
	// The witness first: nothing of moat's has read the files yet.
	witnessed := append([]moat.Event{r.armed}, r.witness.Check(r.now())...)
	deadline := time.Now().Add(fsDiffBudget)
	after, cut := observe.WalkCut(diffRoots(), deadline)
	d := observe.Differ{Tokens: r.cfg.Tokens, Planted: r.cfg.Files, Read: observe.ReadBounded, ReadAt: observe.ReadBoundedAt, Data: observe.DataAt, Xattrs: xattr.Read, Deadline: deadline, At: r.now(), Cut: cut}
	fsEvents, fsDropped := d.Diff(r.before, after)
	auditEvents, auditDropped := r.audit.Events()

	r.mu.Lock()
	all := append(append(append(append([]moat.Event(nil), r.kernel...), witnessed...), auditEvents...), fsEvents...)
	dropped := r.dropped + fsDropped + auditDropped
	r.mu.Unlock()
	sort.SliceStable(all, func(i, j int) bool { return all[i].TimeMS < all[j].TimeMS })
	for i := 0; i < len(all) || i == 0; i += eventsPerMsg {
		chunk := all[i:min(i+eventsPerMsg, len(all))]
		m := Message{Kind: "events", Events: chunk}
		if i == 0 {
			m.EventsDropped = dropped
		}
		if send(m) != nil {
			return
		}
	}
	for i := range d.Pycs {
		if send(Message{Kind: "pyc", Pyc: &d.Pycs[i]}) != nil {
			return
		}
	}
}

// untilHello ignores the audit hook's lines until the hello of a
// prestarted interpreter's run (observe.Collector.UntilHello).
func (r *reporter) untilHello() {
	if r != nil {
		r.audit.UntilHello()
	}
}

// rewalk takes the "before" picture again: after the init wrote a
// prestarted run's files (Prestart), which are the run's, not the
// program's doing.
func (r *reporter) rewalk() {
	if r == nil {
		return
	}
	r.before = observe.Walk(diffRoots(), time.Now().Add(fsDiffBudget))
}
