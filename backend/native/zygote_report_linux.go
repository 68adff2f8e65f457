package native

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/local"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/xattr"
	"github.com/moat-sandbox/moat/internal/sandbox/nsinit"
	"github.com/moat-sandbox/moat/internal/sandbox/osthread"
	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
)

// The behaviour report of a zygote child: the pieces of a cold native
// run's, gathered from the host's side.
//
//   - audit: the zygote runs the hook from its start (zygoteReport), a
//     warm interpreter's, silent until a hello; each child binds a FIFO of
//     its own over the hook's channel and hands it to the host
//     (SCM_RIGHTS), and the program's process (pid 1's child) says hello with the
//     run's argv before the program's first line. The host reads it with
//     the cold init's Collector.
//   - kernel: the child's pid 1 installs seccomp.NotifyProgram with
//     a listener and hands it to the host before anything else; the host
//     serves it as a cold run's (serveListener).
//   - honeytokens: planted by the host in the child's own home (its
//     persona's) through pid 1's root, once pid 1 has bound it (plant); their
//     variables in the run's environment; the witness is armed by the
//     host through /proc/PID/root before the program exists. No token
//     passes through the zygote or pid 1: the program's memory is a copy
//     of theirs, where it would find the values it is about to be
//     offered (and, in the zygote's freed buffers, earlier children's).
//   - fs: the host holds the child's mount namespace and root (nsfs and
//     O_PATH descriptors, taken before the program exists), so the
//     writable directories are walked and diffed after every process of
//     the child is dead, without the child's help and with no process left
//     that could swap a path for a link. The walk never follows links
//     (observe.Walk, ReadBounded).

// zygoteReport gives the zygote's config the audit hook and its channel
// (none of a run's tokens), and the zygote's interpreter the warm
// marker, so that its hook waits for a child's hello.
func (r *runner) zygoteReport(cfg *nsinit.Config) {
	if !r.zygoteHook {
		return
	}
	cfg.Report = &nsinit.ReportConfig{StartMono: r.mono0, HookRoot: r.hookRoot, Site: r.rt.HookSite()}
	if bc, err := audit.Compile(r.rt.Executable, local.CacheDir()); err == nil {
		cfg.Report.Bytecode = bc
	}
	if site := cfg.Report.Site; site != "" {
		if st, err := audit.CompileStartup(r.rt.Executable, site, local.CacheDir()); err == nil {
			cfg.Report.Startup = st
		}
	}
	cfg.Zygote.Env = append(cfg.Zygote.Env, nsinit.WarmEnv+"=1")
}

// childReport is what a zygote child holds for its report.
type childReport struct {
	plan     *observe.Plan
	home     string   // the child's persona's
	fifo     *os.File // the child's audit FIFO (read and write)
	listener int      // the child's seccomp listener; -1 once served
	mntns    int      // the child's mount namespace, held for the diff
	root     int      // O_PATH of the child's root
	witness  *observe.Witness
	armed    moat.Event
}

// place takes hold of the child's root, whose pid 1 is pid1 and which
// has run nothing of a program yet: its mount namespace, its root and
// the witness of its planted files.
func (cr *childReport) place(pid1 int) error {
	var err error
	if cr.mntns, err = unix.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid1), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("hold the child's mounts: %w", err)
	}
	if cr.root, err = unix.Open(fmt.Sprintf("/proc/%d/root", pid1), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("hold the child's root: %w", err)
	}
	files := observe.TokenFiles(cr.plan.Tokens, cr.plan.Files, cr.host)
	cr.witness, cr.armed = observe.ArmWitnessEvent(files)
	return nil
}

// plant writes the child's honeytokens into its home, from the host,
// through the root of C1 (pid), which has bound the home and runs
// nothing of a program yet: directories 0700 and files 0600 of the
// home's owner, as a cold run's init plants them. The home is a tmpfs
// of the child's user namespace, which maps that owner alone (as this
// host names it: the child's uid as the zygote's namespaces map it): the
// files are made on a thread of their own whose file-system uid and gid
// are the home's. os.Root keeps every step inside C1's root.
func (cr *childReport) plant(pid int) error {
	root, err := os.OpenRoot(fmt.Sprintf("/proc/%d/root", pid))
	if err != nil {
		return fmt.Errorf("plant the honeytokens: %w", err)
	}
	defer root.Close()
	fi, err := root.Lstat(strings.TrimPrefix(cr.home, "/"))
	if err != nil {
		return fmt.Errorf("plant the honeytokens: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.IsDir() {
		return fmt.Errorf("plant the honeytokens: the home %s is not a directory", cr.home)
	}
	uid, gid := int(st.Uid), int(st.Gid)
	done := make(chan error, 1)
	osthread.Go(func() {
		// The thread ends with this function (osthread.Go): nothing
		// else ever runs with its credentials.
		_ = unix.Setfsgid(gid)
		_ = unix.Setfsuid(uid)
		if u, _ := unix.SetfsuidRetUid(-1); u != uid {
			done <- fmt.Errorf("plant the honeytokens: file-system uid %d, not the home's %d", u, uid)
			return
		}
		if g, _ := unix.SetfsgidRetGid(-1); g != gid {
			done <- fmt.Errorf("plant the honeytokens: file-system gid %d, not the home's %d", g, gid)
			return
		}
		done <- cr.plantIn(root)
	})
	return <-done
}

// plantIn writes the plan's files under root, where the child's home is
// cr.home.
func (cr *childReport) plantIn(root *os.Root) error {
	home := strings.TrimPrefix(cr.home, "/")
	for _, p := range cr.plan.FilePaths() {
		rel, ok := strings.CutPrefix(p, cr.home+"/")
		if !ok || !filepath.IsLocal(rel) {
			return fmt.Errorf("plant the honeytokens: %s is not in the home %s", p, cr.home)
		}
		dir := home
		for _, d := range strings.Split(filepath.Dir(rel), "/") {
			if d == "." {
				break
			}
			dir += "/" + d
			if err := root.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("plant the honeytokens: %w", err)
			}
		}
		f, err := root.OpenFile(home+"/"+rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return fmt.Errorf("plant the honeytokens: %w", err)
		}
		_, err = f.WriteString(cr.plan.Files[p])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("plant the honeytokens: %w", err)
		}
	}
	return nil
}

// host is where the host reaches p, a path inside the child.
func (cr *childReport) host(p string) string {
	return fmt.Sprintf("/proc/self/fd/%d%s", cr.root, p)
}

// roots are the writable directories the diff covers, as the cold
// init's (nsinit's diffRoots), reached from the host.
func (cr *childReport) roots() []observe.Root {
	var out []observe.Root
	for _, p := range []string{nsinit.WorkDir, cr.home, nsinit.TmpDir, "/dev/shm"} {
		out = append(out, observe.Root{Path: p, Host: cr.host(p)})
	}
	return out
}

// close releases what the report holds.
func (cr *childReport) close() {
	if cr == nil {
		return
	}
	if cr.fifo != nil {
		cr.fifo.Close()
	}
	for _, fd := range []int{cr.listener, cr.mntns, cr.root} {
		if fd > 0 {
			_ = unix.Close(fd)
		}
	}
	cr.listener, cr.mntns, cr.root = -1, -1, -1
	cr.witness.Close()
}

// zygoteRun is the report's part of one run of a child: started before
// the run is sent, finished once every process of the child is dead.
type zygoteRun struct {
	r        *runner // the cold run's report machinery: listener, budgets, finishReport
	cr       *childReport
	audit    *observe.Collector
	endMark  []byte
	readDone chan struct{}
	before   observe.Snapshot
	report   bool // the run wants the report (not Spec.NoReport)
	// outlived: what pid 1 found running when the program ended (its
	// exit message), the program's word on itself: bounded and escaped
	// by survivors.Events.
	outlived []survivors.Process
}

// startReport serves the child's listener (always: its watched calls
// wait for an answer) and, for a run with the report, reads the audit
// FIFO and takes the "before" picture.
func (c *zygoteChild) startReport(spec *moat.Spec, res *moat.Result, done <-chan struct{}) (*zygoteRun, error) {
	cr := c.rep
	zr := &zygoteRun{cr: cr, report: cr != nil && !spec.NoReport,
		r: &runner{spec: spec, lim: spec.Limits.WithDefaults(), rt: c.rt, res: res}}
	zr.r.monoZero.Store(nsinit.MonoNow())
	zr.r.mono0 = zr.r.monoZero.Load()
	if cr == nil {
		return zr, nil
	}
	if cr.listener > 0 {
		zr.r.serveListener(cr.listener, c.pid1, true, done)
		cr.listener = -1 // closed by serveListener
	}
	if !zr.report {
		return zr, nil
	}
	zr.r.events = append(zr.r.events, cr.plan.Planted...)
	now := func() int64 { return (nsinit.MonoNow() - zr.r.mono0) / 1e6 }
	zr.audit = observe.NewCollector(now)
	zr.audit.UntilHello() // pid 1's doings are moat's
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	zr.endMark = []byte(fmt.Sprintf("\x00moat-end %x\n", nonce))
	zr.readDone = make(chan struct{})
	go func() {
		defer close(zr.readDone)
		zr.audit.ReadUntil(cr.fifo, zr.endMark)
	}()
	return zr, nil
}

// walkBefore takes the "before" picture: after the child's pid 1 wrote
// the run's files (which are the run's, not the program's doing, as in a
// cold run) and before the program starts.
func (zr *zygoteRun) walkBefore() {
	if zr.report {
		zr.before = observe.Walk(zr.cr.roots(), time.Now().Add(fsDiffBudget))
	}
}

// tokenEnv is the plan's variables but those the run sets itself.
func (cr *childReport) tokenEnv(specEnv []string) []string {
	given := map[string]bool{}
	for _, kv := range specEnv {
		k, _, _ := strings.Cut(kv, "=")
		given[k] = true
	}
	var out []string
	for _, kv := range cr.plan.Env {
		if k, _, _ := strings.Cut(kv, "="); !given[k] {
			out = append(out, kv)
		}
	}
	return out
}

// fsDiffBudget bounds each walk of a child's writable directories, as
// the cold init's.
const fsDiffBudget = 1500 * time.Millisecond

// finish gathers the events once the child's pid 1 and with it every
// process of the child are dead, and finishes the Result as a cold run's
// (finishReport).
func (zr *zygoteRun) finish(res *moat.Result) *moat.Result {
	zr.r.res = res
	if !zr.report {
		res, _ = zr.r.finishReport(res, nil)
		return res
	}
	cr := zr.cr
	at := (nsinit.MonoNow() - zr.r.mono0) / 1e6
	// Every writer is dead: the end mark goes in behind what they wrote.
	// The deadline is only a backstop.
	_, _ = cr.fifo.Write(zr.endMark)
	_ = cr.fifo.SetReadDeadline(time.Now().Add(time.Second))
	<-zr.readDone
	// The witness first: nothing of moat's has read the files yet.
	witnessed := append([]moat.Event{cr.armed}, cr.witness.Check(at)...)
	deadline := time.Now().Add(fsDiffBudget)
	after, cut := observe.WalkCut(cr.roots(), deadline)
	d := observe.Differ{Tokens: cr.plan.Tokens, Planted: cr.plan.Files, Deadline: deadline, At: at, Cut: cut,
		Read:   func(p string, n int64) ([]byte, error) { return observe.ReadBounded(cr.host(p), n) },
		ReadAt: func(p string, off, n int64) ([]byte, error) { return observe.ReadBoundedAt(cr.host(p), off, n) },
		Data:   func(p string, off int64) (int64, int64, error) { return observe.DataAt(cr.host(p), off) },
		Xattrs: func(p string) ([]xattr.Attr, error) { return xattr.Read(cr.host(p)) }}
	fsEvents, fsDropped := d.Diff(zr.before, after)
	auditEvents, auditDropped := zr.audit.Events()
	all := append(append(append([]moat.Event(nil), witnessed...), auditEvents...), fsEvents...)
	all = append(all, survivors.Events(zr.outlived, at)...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].TimeMS < all[j].TimeMS })
	zr.r.events = append(zr.r.events, all...)
	zr.r.eventsDropped += fsDropped + auditDropped
	for i := range d.Pycs {
		zr.r.addPyc(&d.Pycs[i])
	}
	zr.r.sawEvents = true
	res, _ = zr.r.finishReport(res, nil)
	return res
}

// recvFD is the descriptor a child sent with a message, or -1.
func recvFD(oob []byte) (int, error) {
	cms, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return -1, err
	}
	fd := -1
	for _, cm := range cms {
		fds, err := unix.ParseUnixRights(&cm)
		if err != nil {
			continue
		}
		for _, f := range fds {
			if fd < 0 {
				fd = f
			} else {
				_ = unix.Close(f) // one descriptor per message
			}
		}
	}
	if fd < 0 {
		return -1, errors.New("no descriptor from the child")
	}
	return fd, nil
}

// closeFDs closes the descriptors of a message that is not taken.
func closeFDs(oob []byte) {
	if fd, err := recvFD(oob); err == nil {
		_ = unix.Close(fd)
	}
}
