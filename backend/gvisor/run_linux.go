package gvisor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	"github.com/moat-sandbox/moat/backend/internal/outdir"
	"github.com/moat-sandbox/moat/backend/internal/sentry"
	"github.com/moat-sandbox/moat/internal/local"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/sandbox/cgroup"
	"github.com/moat-sandbox/moat/internal/sandbox/nsinit"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	"github.com/moat-sandbox/moat/internal/transfer/capture"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// idPrefix names every bundle, runsc container and cgroup of this backend.
const idPrefix = "moat-gvisor-"

// The cgroup holds `runsc run`, the Sentry, the gofer and the program's
// stub processes, not only the program: these slacks are their own share,
// on top of the program's limits (runsc run itself: some 20MiB and 8
// threads). They are reported in the cgroup layer.
const (
	// SentryMemory is added to Limits.Memory for runsc, the Sentry and
	// the gofer.
	SentryMemory = 128 << 20
	sentryPids   = 80
	// mountPids is added to the pids slack for each host path bound into
	// the sandbox: the gofer serves every bind mount with threads of its
	// own (measured with runsc 20221219, ptrace: print(1) peaked at 105
	// tasks with the runtime's binds, 310 with the userland's ~60 more),
	// so a run with the userland hit its pids limit with a handful of
	// processes of its own.
	mountPids = 4
)

// slackPids is the cgroup's pids for runsc, the Sentry and the gofer,
// on top of the program's limit. With the report on, moat's init keeps
// the program's limit inside the sandbox (sentryinit: it counts the
// tasks, lists the daemons and ends the run at it), and the cgroup,
// which counts the Sentry's threads and the platform's stubs (up to
// stubPids for each of the program's tasks), is the backstop above it:
// a cgroup that refused first killed the sandbox before the init could
// list anything.
func (r *runner) slackPids() int {
	n := sentryPids + mountPids*(len(r.rt.Paths)+len(pyrt.HostData(r.spec.Network != moat.NetworkSinkhole)))
	if r.initPids() {
		n += stubPids * r.lim.Pids
	}
	return n
}

// stubPids is the host threads the cgroup may count for each of the
// program's tasks (the platform's stub process and threads, the Sentry's
// own): 60 sleeping processes made 394 more under ptrace (runsc
// 20221219), and daemon_limit.py's 64 passed 6 each.
const stubPids = 10

// initPids says whether moat's init keeps the pids limit: the report is
// on (the init is pid 1) and the run has a limit.
func (r *runner) initPids() bool { return r.rep != nil && r.lim.Pids > 0 }

// pidsKeeper says, for the rlimits layer, who ends the run at the pids
// limit.
func pidsKeeper(init bool) string {
	if init {
		return "; moat's init counts the program's tasks and ends the run at the pids limit, listing its daemons first"
	}
	return ""
}

// stopGrace is how long runsc gets to go after the sandbox was killed.
const stopGrace = 3 * time.Second

// ours holds the ids of this process's runs: those in progress and the
// last maxEnded that ended. Other moat processes run on the same host with
// the same id prefix; what is theirs is never this process's leftover.
var ours = struct {
	sync.Mutex
	active map[string]bool
	ended  map[string]bool
	order  []string // ended, oldest first
}{active: map[string]bool{}, ended: map[string]bool{}}

// maxEnded bounds how many ended runs Leftovers checks: a long-lived
// process must not grow without end.
const maxEnded = 4096

func runStarted(id string) {
	ours.Lock()
	ours.active[id] = true
	ours.Unlock()
}

func runEnded(id string) {
	ours.Lock()
	defer ours.Unlock()
	delete(ours.active, id)
	ours.ended[id] = true
	ours.order = append(ours.order, id)
	if len(ours.order) > maxEnded {
		delete(ours.ended, ours.order[0])
		ours.order = ours.order[1:]
	}
}

func (b *Backend) run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("gvisor: %w", err)
	}
	if err := b.Supports(spec); err != nil {
		return nil, err
	}
	if spec.Image != "" {
		return runImage(ctx, spec)
	}
	tr := newTracer()
	h, err := b.probe(ctx)
	if err != nil {
		return nil, err
	}
	tr.step("probed")
	lim := spec.Limits.WithDefaults()
	rt, err := pyrt.Resolve(spec.Python, os.Getenv("PATH"), local.CacheDir())
	if err != nil {
		return nil, fmt.Errorf("gvisor: %w", err)
	}
	var ul *pyrt.Userland
	if spec.Userland {
		if ul, err = pyrt.ResolveUserland(local.CacheDir()); err != nil {
			return nil, fmt.Errorf("gvisor: %w", err)
		}
		rt = rt.WithUserland(ul)
	}
	tr.step("runtime resolved")
	r := &runner{b: b, h: h, spec: spec, lim: lim, rt: rt, userland: ul, id: idPrefix + local.NewID(), res: &moat.Result{Isolation: "gvisor"}, tr: tr,
		persona: observe.NewRunnerPersonaFor(spec.PersonaKey)}
	// A persona of its own for every run, as native's; moat's hook in its
	// tools directory, never in or above a path bound from the host.
	// The hook's place is one of the skeleton's (their mount points are
	// made there, once per interpreter), drawn per run.
	choices := toolChoices(rt)
	r.tools = mrand.IntN(len(choices))
	r.persona.Tools = choices[r.tools]
	runStarted(r.id)
	defer runEnded(r.id)
	defer func() {
		r.cleanup()
		tr.step("cleaned up")
	}()
	res, err := r.run(ctx)
	// The sandbox is dead (run killed its cgroup): what is left of it on
	// the host goes while the report reads the scratch and the trace.
	released := make(chan struct{})
	go func() {
		defer close(released)
		r.release()
	}()
	r.finishReport(res)
	<-released
	tr.step("report finished")
	return res, err
}

type runner struct {
	b    *Backend // for the bytecode verification's fresh sandbox
	h    *host
	spec *moat.Spec
	lim  moat.Limits
	rt   *pyrt.Runtime // with the userland's paths, if any
	// userland is what Spec.Userland added, or nil.
	userland *pyrt.Userland
	persona  observe.Persona
	id       string
	res      *moat.Result
	tr       *tracer

	dir, scratch string
	mounted      bool
	// shmMounted is the host tmpfs of the walk of /dev/shm (prepareShm).
	shmMounted string
	// site is the runtime's site directory the hook is laid over, and
	// siteMount the host overlay (in the bundle) bound there; "" when the
	// hook is on PYTHONPATH (siteOverlay).
	site, siteMount string
	// startup is the runtime's encodings package, and startupMount the
	// host overlay bound there with the hook's loader for -S interpreters
	// (startupOverlay); "" when it is not.
	startup, startupMount string
	// tools is the index of the hook's place in toolChoices.
	tools   int
	lock    *os.File
	group   cgroup.Group
	cmd     *exec.Cmd
	started bool

	rep *report // the behaviour report (report_linux.go); nil when off
	// sentry is the Sentry's debug log, read as runsc writes it; nil
	// without the report.
	sentry *sentryLog
	// ran holds the hashes of the files the trace's execs ran, read as
	// each exec's exit was (execRan)
	ran execsRan
	// hashes are the files the report hashed, by version
	hashes seccomp.ExecHashes

	// netns and sink: the run's network namespace and the sinkhole moat
	// serves in it (sink_linux.go); nil unless --network sinkhole.
	netns *os.File
	sink  *ctr.Sink
	start time.Time // the zero of the sink's event times

	mu          sync.Mutex
	reason      moat.Status
	stopOnce    sync.Once
	releaseOnce sync.Once
}

// stop ends the run for reason (the first wins): everything in the
// sandbox's cgroup is killed, which ends `runsc run`.
func (r *runner) stop(reason moat.Status) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.reason = reason
		r.mu.Unlock()
		if r.rep != nil && r.group != nil {
			// pid 1 is moat's init: SIGTERM makes it kill every other
			// process and walk /dev/shm for the report before it exits
			// (package sentryinit); the cgroup is killed after walkGrace
			// whatever it does.
			go r.signalInit()
			time.AfterFunc(walkGrace, func() { _ = r.group.Kill() })
			time.AfterFunc(walkGrace+stopGrace, func() { _ = r.cmd.Process.Kill() })
			return
		}
		if r.group != nil {
			_ = r.group.Kill()
		}
		time.AfterFunc(stopGrace, func() { _ = r.cmd.Process.Kill() })
	})
}

// walkGrace is how long moat's init gets, at a stop, to end the run and
// walk /dev/shm before the sandbox is killed; a walk cut by it is a cut
// of the report.
const walkGrace = 5 * time.Second

// signalInit sends SIGTERM to the sandbox's pid 1 (runsc kill).
func (r *runner) signalInit() {
	ctx, cancel := context.WithTimeout(context.Background(), walkGrace)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.h.Runsc, "--root", runscRoot(), "kill", r.id, "TERM")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if err := cmd.Run(); err != nil {
		// The init is not reachable: no walk, end it now.
		_ = r.group.Kill()
	}
}

func (r *runner) stopReason() moat.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason
}

// prepare makes the bundle: directory, lock, scratch tmpfs, workspace,
// root skeleton, cgroup and config.json.
func (r *runner) prepare() error {
	r.dir = filepath.Join(stateBase(), r.id)
	if err := os.Mkdir(r.dir, 0o700); err != nil {
		return err
	}
	// Held for the whole run: GC takes what no one holds.
	lock, err := os.OpenFile(filepath.Join(r.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	r.lock = lock
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("lock bundle: %w", err)
	}
	r.scratch = filepath.Join(r.dir, "scratch")
	if err := os.Mkdir(r.scratch, 0o700); err != nil {
		return err
	}
	opts := fmt.Sprintf("mode=0755,size=%d,nr_inodes=%d", r.lim.Disk-shmSize(r.lim.Disk), 1<<20)
	if err := unix.Mount("tmpfs", r.scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount scratch tmpfs: %w", err)
	}
	r.mounted = true
	r.tr.step("bundle dir, scratch tmpfs")
	for _, d := range scratchDirs(r.persona.Home) {
		p := filepath.Join(r.scratch, d.name)
		if err := os.Mkdir(p, 0o700); err != nil {
			return err
		}
		if err := os.Chmod(p, os.FileMode(d.mode&0o777)|modeSticky(d.mode)); err != nil {
			return err
		}
		if err := os.Chown(p, sandboxID, sandboxID); err != nil {
			return err
		}
	}
	if err := r.copyIn(); err != nil {
		return err
	}
	r.tr.step("workspace copied in")
	hook := !r.spec.NoReport
	var bc *audit.Bytecode
	if hook {
		bc, _ = audit.Compile(r.rt.Executable, local.CacheDir()) // nil: Python compiles the hook
	}
	skel, err := skeleton(r.rt, hook, bc)
	if err != nil {
		return fmt.Errorf("root skeleton: %w", err)
	}
	if hook {
		r.siteOverlay(skel)
	}
	etc := filepath.Join(r.scratch, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(r.scratch, "homes", path.Base(r.persona.Home)), 0o755); err != nil {
		return err
	}
	// The system's files were written when the machine was installed,
	// before it booted (the Sentry's boot: the sandbox's start); hosts
	// and hostname as a container's, at its start.
	installed := observe.Installed(0)
	for name, content := range etcFiles(r.persona) {
		p := filepath.Join(etc, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
		if name == "passwd" || name == "group" || name == "machine-id" {
			if err := os.Chtimes(p, installed, installed); err != nil {
				return err
			}
		}
	}
	r.tr.step("root skeleton")
	r.start = time.Now()
	repEnv, err := r.prepareReport(r.start)
	if err != nil {
		return fmt.Errorf("behaviour report: %w", err)
	}
	r.tr.step("report prepared")
	if r.spec.Network == moat.NetworkSinkhole {
		if repEnv, err = r.startSink(etc, repEnv); err != nil {
			return err
		}
	}
	g, err := cgroup.New(r.id, cgroup.Limits{Memory: r.lim.Memory + SentryMemory, Pids: r.lim.Pids + r.slackPids(), CPUs: r.lim.CPUs})
	if err != nil {
		return fmt.Errorf("%w: %w", err, moat.ErrDegraded)
	}
	r.group = g
	r.tr.step("cgroup created")
	python := r.rt.Command
	env := []string{
		"PATH=" + filepath.Dir(python) + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + r.persona.Home, "TMPDIR=" + tmpDir, "LANG=C.UTF-8", "USER=" + r.persona.User, "LOGNAME=" + r.persona.User,
		"PYTHONUNBUFFERED=1",
	}
	auditPath := r.auditMount()
	var initPath, walkPath string
	if r.rep != nil {
		// This binary is pid 1, which walks /dev/shm for the report
		// (package sentryinit); without it the report would miss /dev/shm.
		if initPath, err = os.Executable(); err != nil {
			return fmt.Errorf("behaviour report: the init: %w", err)
		}
		walkPath = filepath.Join(r.rep.shm, shmWalk)
	}
	s := ociSpec(bundleConfig{
		Argv:         append([]string{python}, r.spec.Args...),
		Env:          append(append(env, r.spec.Env...), repEnv...),
		AuditFile:    auditPath,
		Hook:         filepath.Join(skel, "py"),
		Site:         r.site,
		SiteMount:    r.siteMount,
		Startup:      r.startup,
		StartupMount: r.startupMount,
		Void:         filepath.Join(skel, voidFile),
		Init:         initPath,
		Walk:         walkPath,
		Persona:      r.persona,
		Etc:          etc,
		Binds:        append(slices.Clone(r.rt.Paths), pyrt.HostData(r.spec.Network != moat.NetworkSinkhole)...),
		Scratch:      r.scratch,
		CgroupsPath:  "/moat/" + r.id,
		Root:         filepath.Join(skel, "root"),
		Disk:         r.lim.Disk,
		Pids:         r.lim.Pids,
		HostNet:      r.netns != nil,
	})
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.dir, "config.json"), b, 0o600)
}

// siteOverlay lays the skeleton's site directory (the hook's module and
// its .pth line) over the runtime's first site directory it binds, in a
// read-only overlay on the host that the sandbox gets bound there: runsc's
// binds of the runtime cannot take a new file, and on PYTHONPATH the hook
// would be a tell. If the overlay cannot be mounted, the hook goes on
// PYTHONPATH (prepareReport).
func (r *runner) siteOverlay(skel string) {
	site := r.rt.HookSite()
	if site == "" {
		return
	}
	mnt := filepath.Join(r.dir, "site")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return
	}
	// No upper layer: nothing can be written through it.
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV,
		"lowerdir="+filepath.Join(skel, siteDir(r.tools))+":"+site); err != nil {
		r.tr.step("site overlay failed: " + err.Error())
		return
	}
	r.site, r.siteMount = site, mnt
	r.tr.step("site overlay")
	r.startupOverlay(site)
}

// startupOverlay lays the runtime's encodings package with the hook's
// loader (audit.Startup: for interpreters started with -S, which skip
// the site directory's .pth line) over the package, in a read-only
// overlay on the host that the sandbox gets bound there. Without it
// (no compile, no overlay), -S interpreters run without the hook, and
// their exec without a hello stays a finding.
func (r *runner) startupOverlay(site string) {
	st, err := audit.CompileStartup(r.rt.Executable, site, local.CacheDir())
	if err != nil {
		r.tr.step("startup hook: " + err.Error())
		return
	}
	pkg := filepath.Dir(st.Path)
	if fi, err := os.Lstat(pkg); err != nil || !fi.IsDir() {
		return
	}
	src, mnt := filepath.Join(r.dir, "startup-src"), filepath.Join(r.dir, "startup")
	for _, f := range []struct {
		name string
		data []byte
	}{{"__init__.py", st.Source}, {st.PycName(), st.Pyc}} {
		p := filepath.Join(src, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return
		}
	}
	if err := os.Mkdir(mnt, 0o755); err != nil {
		return
	}
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "lowerdir="+src+":"+pkg); err != nil {
		r.tr.step("startup overlay failed: " + err.Error())
		return
	}
	r.startup, r.startupMount = pkg, mnt
	r.tr.step("startup overlay")
}

func modeSticky(m uint32) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// copyIn puts the workspace and Spec.Files into the scratch work directory,
// owned by the sandbox user. Links in the workspace are kept as links (the
// gofer never follows one out of its mount).
func (r *runner) copyIn() error {
	work := filepath.Join(r.scratch, "work")
	owner := &treecopy.Owner{UID: sandboxID, GID: sandboxID}
	if r.spec.Workspace != "" {
		pr, pw := io.Pipe()
		var packErr error
		go func() {
			packErr = treecopy.Pack(pw, r.spec.Workspace, treecopy.Limits{Bytes: r.lim.Disk, Files: 1 << 20})
			pw.CloseWithError(packErr)
		}()
		_, err := treecopy.Unpack(pr, work, treecopy.Limits{Bytes: r.lim.Disk, Files: 1 << 20}, treecopy.Options{Owner: owner, KeepLinks: true, AnyNames: true, Whole: true})
		_, _ = io.Copy(io.Discard, pr)
		if packErr != nil {
			return fmt.Errorf("workspace: %w", packErr)
		}
		if err != nil {
			return fmt.Errorf("workspace: %w", err)
		}
	}
	names := make([]string, 0, len(r.spec.Files))
	for n := range r.spec.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := os.OpenFile(filepath.Join(work, n), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o644)
		if err != nil {
			return fmt.Errorf("file %s: %w", n, err)
		}
		_, err = f.Write(r.spec.Files[n])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chown(filepath.Join(work, n), sandboxID, sandboxID)
		}
		if err != nil {
			return fmt.Errorf("file %s: %w", n, err)
		}
	}
	return nil
}

// copyOut copies the work directory to Spec.OutDir after the sandbox is
// gone, so nothing changes it while it is read; links are never followed.
func (r *runner) copyOut() {
	if r.spec.OutDir == "" {
		return
	}
	r.res.Out = outdir.Copy(filepath.Join(r.scratch, "work"), r.spec)
}

// writeRootfs writes the read-only root: mount points of the binds, the
// runtime's links, /etc (mount points of the run's own files) and the
// directories the scratch is bound on, and the mount points of the hook
// (toolChoices). See skeleton: one root serves
// every run of an interpreter (change skeletonVersion with what this makes).
func writeRootfs(root string, rt *pyrt.Runtime) error {
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	binds := append([]string(nil), rt.Paths...)
	sort.Strings(binds)
	for _, p := range binds {
		if err := nsinit.MountTarget(p, filepath.Join(root, p)); err != nil {
			return fmt.Errorf("bind %s: %w", p, err)
		}
	}
	links := make([]string, 0, len(rt.Links))
	for l := range rt.Links {
		links = append(links, l)
	}
	sort.Strings(links)
	for _, l := range links {
		dst := filepath.Join(root, l)
		if _, err := os.Lstat(dst); err == nil || underAny(l, binds) {
			continue // there already, or inside a bind
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(rt.Links[l], dst); err != nil {
			return fmt.Errorf("link %s: %w", l, err)
		}
	}
	// The directories every Linux root has (red team, session 19: no
	// /var, /run), empty and read-only.
	for _, d := range []string{"proc", "dev", "sys", "etc", "work", "tmp", "home", "var/tmp", "var/lib", "var/cache", "run", "mnt", "srv", "media"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	for _, tools := range toolChoices(rt) {
		tools = strings.TrimPrefix(tools, "/")
		if err := os.MkdirAll(filepath.Join(root, tools, "py"), 0o755); err != nil {
			return err
		}
		// audit: the hook's channel; init and walk: the init and its
		// walk of /dev/shm (package sentryinit).
		for _, f := range []string{"audit", "init", "walk"} {
			if err := os.WriteFile(filepath.Join(root, tools, f), nil, 0o644); err != nil {
				return err
			}
		}
	}
	// The mount points of the run's own /etc files, and of a sinkhole's
	// (bound only then; empty files otherwise).
	for _, name := range append(slices.Clone(etcNames), egress.EtcFiles()...) {
		p := filepath.Join(root, "etc", name)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}

// runscArgs are the global flags of `runsc run`. inGroup: runsc starts in
// the run's cgroup (startInGroup) and leaves cgroups alone.
func (r *runner) runscArgs(inGroup bool) []string {
	network := "--network=none"
	if r.netns != nil {
		network = "--network=host" // in the run's own namespace: sink_linux.go
	}
	a := []string{"--root", runscRoot(), network, "--platform=" + r.h.Platform, "--log=" + filepath.Join(r.dir, "runsc.log"), "--log-format=json", "--oci-seccomp"}
	if inGroup {
		a = append(a, "--ignore-cgroups")
	}
	if r.sentry != nil {
		// The Sentry's trace of exec and connect, and (at debug level) the
		// calls the OCI profile refused: the report's kernel side, read
		// as it is written (sentryLog).
		a = append(a, "--debug", "--strace", "--strace-syscalls="+sentry.Syscalls+","+sentry.CwdSyscalls+","+sentry.ListenSyscalls, "--debug-log="+r.sentry.path, "--debug-command=boot")
	}
	if r.h.Overlay2 {
		a = append(a, "--overlay2=none") // the root is read-only; writes go to the scratch
	}
	return a
}

func (r *runner) run(ctx context.Context) (*moat.Result, error) {
	start := time.Now()
	if err := r.prepare(); err != nil {
		if errors.Is(err, moat.ErrDegraded) || errors.Is(err, moat.ErrUnavailable) {
			return nil, fmt.Errorf("gvisor: %w", err)
		}
		return nil, fmt.Errorf("gvisor: prepare bundle: %w", err)
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer stdinR.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		stdinW.Close()
		return nil, err
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		stdinW.Close()
		outW.Close()
		return nil, err
	}
	defer errR.Close()

	if r.rep != nil {
		if r.sentry, err = openSentryLog(r.dir, sentry.Watch{Cwd: workDir, Ran: r.execRan}); err != nil {
			stdinW.Close()
			outW.Close()
			errW.Close()
			return nil, fmt.Errorf("gvisor: the sentry's log: %w", err)
		}
		defer r.sentry.finish()
	}
	newCmd := func(inGroup bool) *exec.Cmd {
		args := append(r.runscArgs(inGroup), "run", "--bundle", r.dir, r.id)
		cmd := exec.Command(r.h.Runsc, args...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		cmd.Dir = r.dir
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, outW, errW
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		return cmd
	}
	exited := make(chan struct{}) // runsc was reaped
	defer close(exited)
	cmd, err := startInGroup(r.group, r.id, r.netns, newCmd, exited)
	if err == nil && r.netns != nil {
		if err = checkNetns(cmd.Process.Pid, r.netns); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	if err != nil {
		stdinW.Close()
		outW.Close()
		errW.Close()
		return nil, fmt.Errorf("gvisor: start runsc: %w", err)
	}
	r.cmd = cmd
	r.started = true
	r.tr.step("runsc started")
	if r.rep != nil {
		r.rep.startTail(filepath.Join(r.scratch, auditFile))
	}
	stdinR.Close()
	outW.Close()
	errW.Close()

	if r.spec.Stdin != nil {
		go func() { _, _ = io.Copy(stdinW, r.spec.Stdin); stdinW.Close() }()
	} else {
		stdinW.Close()
	}
	var wg sync.WaitGroup
	stdout := capture.New(r.spec.Stdout, r.lim.OutputLimit, func() { r.stop(moat.StatusOutputLimit) })
	stderr := capture.New(r.spec.Stderr, r.lim.OutputLimit, func() { r.stop(moat.StatusOutputLimit) })
	wg.Add(2)
	go func() { defer wg.Done(); stdout.Drain(outR) }()
	go func() { defer wg.Done(); stderr.Drain(errR) }()

	timer := time.AfterFunc(r.lim.Timeout, func() { r.stop(moat.StatusTimeout) })
	defer timer.Stop()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			r.stop(moat.StatusCanceled)
		case <-done:
		}
	}()
	go r.watchGroup(done)

	waitErr := cmd.Wait()
	r.tr.step("runsc exited")
	r.stopOnce.Do(func() {}) // no stop after the end
	// Whatever of the sandbox is left dies now, so the pipes close.
	_ = r.group.Kill()
	wg.Wait()
	r.sentry.finish()
	r.tr.step("output drained")
	r.res.DurationMS = time.Since(start).Milliseconds()
	stats, _ := r.group.Stats()
	res := r.res
	res.MaxRSSBytes = stats.PeakMemory
	res.Stdout, res.StdoutTruncated = stdout.Result()
	res.Stderr, res.StderrTruncated = stderr.Result()
	res.Layers = append(r.layers(), r.reportLayer())
	r.copyOut()
	r.tr.step("stats read, copied out")

	code := -1
	var ee *exec.ExitError
	if waitErr == nil {
		code = 0
	} else if errors.As(waitErr, &ee) {
		code = ee.ExitCode()
	}
	runscErr := r.runscError()
	e := moat.Ending{Stop: r.stopReason(), OOMKills: stats.OOMKills, PidsHits: stats.PidsMaxHits}
	if r.initPids() {
		// The init's account, in its walk (nonce-checked): it ended the
		// run at the pids limit.
		if f, _, _ := r.rep.readEnded(); f != nil {
			f.Close()
			if r.rep.ended.PidsHit {
				e.PidsHits++
			}
		}
	}
	switch {
	case code == 128 && runscErr != "" || code < 0:
		// runsc itself failed: the program never ran, or moat cannot tell.
		msg := "runsc: " + runscErr
		if runscErr == "" {
			msg = "runsc: " + waitErr.Error()
		}
		switch {
		case strings.Contains(runscErr, "failed to load") && strings.Contains(runscErr, "no such file"):
			e.StartErr, e.StartErrno = msg, syscall.ENOENT
		case strings.Contains(runscErr, "failed to load") && strings.Contains(runscErr, "permission denied"):
			e.StartErr, e.StartErrno = msg, syscall.EACCES
		default:
			e.Lost = msg
		}
	case code > 128 && code <= 128+64:
		// runsc reports a program killed by signal N as 128+N, as a shell
		// does; a program that exits with such a code itself looks the same.
		e.Exited, e.Signal = true, code-128
	default:
		e.Exited, e.ExitCode = true, code
	}
	return res, e.Classify("gvisor", res)
}

// runscError is the last error runsc logged, if any.
func (r *runner) runscError() string {
	f, err := os.Open(filepath.Join(r.dir, "runsc.log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e struct{ Msg, Level string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") {
			last = e.Msg
		}
	}
	if len(last) > 500 {
		last = last[:500]
	}
	return last
}

// watchGroup ends the run with the status of a cgroup limit breach.
func (r *runner) watchGroup(done <-chan struct{}) {
	cgroup.Watch(r.group, done, func(b cgroup.Breach) {
		if b == cgroup.BreachMemory {
			r.stop(moat.StatusMemory)
		} else {
			r.stop(moat.StatusPids)
		}
	})
}

func (r *runner) layers() []moat.Layer {
	binds := append([]string(nil), r.rt.Paths...)
	sort.Strings(binds)
	ls := []moat.Layer{
		{Name: "gvisor", Detail: fmt.Sprintf("%s, platform %s: the Sentry, a user-space kernel, answers every system call", r.h.Version, r.h.Platform)},
		{Name: "oci-bundle", Detail: "read-only root of the interpreter alone; gVisor's own /proc and /dev"},
		{Name: "read-only-runtime", Detail: strings.Join(binds, " ")},
		{Name: "disk", Detail: fmt.Sprintf("%d bytes: one host tmpfs of %d for /work /tmp %s; /dev/shm a tmpfs of the Sentry of %d, in the memory limit too", r.lim.Disk, r.lim.Disk-shmSize(r.lim.Disk), r.persona.Home, shmSize(r.lim.Disk))},
		r.networkLayer(),
		{Name: "seccomp", Detail: "native's deny list and socket families (unix, inet, inet6, netlink route), applied by the Sentry (runsc --oci-seccomp)"},
		{Name: "user", Detail: fmt.Sprintf("uid %d, no capabilities, no_new_privileges", sandboxID)},
		{Name: fmt.Sprintf("cgroup-v%d", r.group.Version()), Detail: fmt.Sprintf("%s; memory %d bytes (+%d for runsc, the Sentry and gofer), pids %d (+%d for them), cpus %g",
			strings.Join(r.group.Controllers(), ","), r.lim.Memory, SentryMemory, r.lim.Pids, r.slackPids(), r.lim.CPUs)},
		{Name: "rlimits", Detail: fmt.Sprintf("nofile 1024, core 0, fsize %d, nproc %d (the Sentry's tasks, threads too, which the cgroup never sees)%s", r.lim.Disk, r.lim.Pids, pidsKeeper(r.initPids()))},
		{Name: "timeout", Detail: r.lim.Timeout.String()},
		{Name: "output-limit", Detail: fmt.Sprintf("%d bytes per stream", r.lim.OutputLimit)},
	}
	if r.userland != nil {
		ls = slices.Insert(ls, 3, moat.Layer{Name: "userland", Detail: r.userland.Summary()})
	}
	return ls
}

// cleanup removes everything of the run: the runsc container (if runsc
// did not), the cgroup, every process, the scratch tmpfs and the bundle.
func (r *runner) cleanup() {
	r.release()
	r.stopSink()
	if r.netns != nil {
		r.netns.Close()
	}
	if r.siteMount != "" {
		_ = unix.Unmount(r.siteMount, unix.MNT_DETACH)
	}
	if r.startupMount != "" {
		_ = unix.Unmount(r.startupMount, unix.MNT_DETACH)
	}
	if r.shmMounted != "" {
		_ = unix.Unmount(r.shmMounted, unix.MNT_DETACH)
	}
	if r.mounted {
		_ = unix.Unmount(r.scratch, unix.MNT_DETACH)
		r.tr.step("scratch unmounted")
	}
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
		r.tr.step("bundle removed")
	}
	if r.lock != nil {
		r.lock.Close()
	}
}

// release removes what of the run is not a file: the runsc container, the
// cgroups and every process. It runs once; cleanup calls it too, for a run
// that ended early.
func (r *runner) release() {
	r.releaseOnce.Do(r.releaseNow)
}

func (r *runner) releaseNow() {
	if r.started && r.dir != "" {
		if _, err := os.Stat(filepath.Join(runscRoot(), r.id)); err == nil || stateExists(r.id) {
			r.deleteContainer()
			r.tr.step("runsc delete")
		}
	}
	// The cgroup goes while /proc is scanned (runsc delete, which names
	// the run too, is over: killNamed would kill it).
	var wg sync.WaitGroup
	if r.group != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The Sentry's processes can still be dying when the first
			// rmdir comes (EBUSY): kill and remove again, for up to a
			// minute (the exit of a Sentry and its ptrace stubs has taken
			// more than 3s, and in CI with a Kubernetes node beside it more
			// than 10s). What still stands then is `moat gc`'s.
			for end := time.Now().Add(time.Minute); r.group.Destroy() != nil && time.Now().Before(end); {
				time.Sleep(50 * time.Millisecond)
			}
			removeRunscCgroups(r.id)
			r.tr.step("cgroups removed")
		}()
	}
	// Any host process that still names this run (a runsc helper that
	// was not in the cgroup) is killed and waited for: nothing of a run
	// outlives it.
	killNamed(r.id, 5*time.Second)
	r.tr.step("no process left")
	wg.Wait()
	// Once every process of the run is dead, the run's cgroup directories
	// are removed once more: a runsc process still at work while they
	// were removed above made some of them again (CI saw the freezer,
	// memory and pids groups of a finished run standing, empty).
	if r.group != nil {
		removeRunscCgroups(r.id)
	}
}

func (r *runner) deleteContainer() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = exec.CommandContext(ctx, r.h.Runsc, "--root", runscRoot(), "delete", "-force", r.id).Run()
}

// stateExists reports whether runsc keeps state for container id.
func stateExists(id string) bool {
	m, _ := filepath.Glob(filepath.Join(runscRoot(), "*"+id+"*"))
	return len(m) > 0
}

// removeRunscCgroups removes the groups runsc made for id in the
// controllers moat's cgroup does not use (cpuset, devices, blkio, ...):
// runsc leaves them when its sandbox was killed. They are empty once the
// sandbox is dead; a removal that races its last exit is retried.
func removeRunscCgroups(id string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "moat", id))
	if d := filepath.Join("/sys/fs/cgroup", "moat", id); dirExists(d) {
		dirs = append(dirs, d)
	}
	// A directory that will not go holds a process still (EBUSY): one of
	// the run's, which runsc placed there late; it is killed, for up to
	// 10s (CI saw a finished run's freezer, memory and pids groups stand
	// 20s after it).
	for _, d := range dirs {
		for end := time.Now().Add(10 * time.Second); ; {
			err := os.Remove(d)
			if err == nil || os.IsNotExist(err) || time.Now().After(end) {
				break
			}
			if b, rerr := os.ReadFile(filepath.Join(d, "cgroup.procs")); rerr == nil {
				for _, f := range strings.Fields(string(b)) {
					if pid, aerr := strconv.Atoi(f); aerr == nil && pid > 1 {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
