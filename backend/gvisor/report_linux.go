package gvisor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/gvisor/sentryinit"
	"github.com/moat-sandbox/moat/backend/internal/sentry"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
	"github.com/moat-sandbox/moat/internal/observe/xattr"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
	moatreport "github.com/moat-sandbox/moat/report"
)

// The behaviour report of a direct-mode run. Everything is done from the
// host, on the host tmpfs that the sandbox sees as its writable places:
//
//   - honeytokens are planted in scratch/home before the run;
//   - internal/observe/audit's hook is a root-owned module of the
//     skeleton with its .pth line, in a read-only overlay on the host
//     over the runtime's site directory, bound there (siteOverlay); or,
//     without one, sitecustomize at the persona's TOOLS/py on PYTHONPATH;
//     its channel is
//     scratch/.moat-audit, bound at TOOLS/audit
//     (gVisor has no host FIFOs here): the hook appends one line per event,
//     moat tails the file while the run goes on (so events get the time
//     they arrived), bounded by maxAuditFile and the Collector;
//   - the diff walks scratch/{work,home,tmp} before and after, and
//     /dev/shm, a tmpfs inside the Sentry (shmMount) that the host cannot
//     read, as the sandbox's init packed it once the program's processes
//     were all dead (package sentryinit), unpacked on the host (loadShm);
//   - the kernel-side events are the Sentry's syscall trace (strace.go).

const (
	auditFile    = ".moat-audit" // in the scratch tmpfs
	maxAuditFile = 4 << 20
	fsBudget     = observe.FSBudget
)

type report struct {
	plan   *observe.Plan
	audit  *observe.Collector
	start  time.Time
	before observe.Snapshot
	roots  []observe.Root
	// witness keeps the planted files' times on the host tmpfs, where
	// the Sentry's reads of them land (observe.Witness); nil: reads rest
	// on the hook. armed says which.
	witness *observe.Witness
	armed   moat.Event
	// metadata is what the sinkhole serves at the metadata address, whose
	// credentials are among the plan's tokens; nil without a sinkhole.
	metadata *honeytoken.Metadata

	// shm is the host tmpfs of the walk of /dev/shm: the walk file
	// (shmWalk) the init writes, and the tree (shmTree) it is unpacked
	// into, the diff's root of /dev/shm; nonce ends a walk of the init's.
	shm   string
	nonce string
	// outlived: what the init found running when the program ended (in
	// its walk, nonce-checked), the program's: survivors.Events bounds it.
	outlived []survivors.Process
	// ended is the init's account of the run's end (readEnded).
	ended sentryinit.Ended

	tailMu sync.Mutex
	off    int64
	stop   chan struct{}
	done   chan struct{}
}

// prepareReport plants the tokens, writes the hook and takes the "before"
// walk. It returns the extra environment of the program.
func (r *runner) prepareReport(start time.Time) ([]string, error) {
	if r.spec.NoReport {
		return nil, nil
	}
	rep := &report{plan: observe.NewPlanFor(r.spec.PersonaKey, r.persona.Home, r.spec.Env), start: start}
	rep.plan.Identity(r.persona.Host, r.persona.User, r.persona.Home, workDir, r.spec.Env)
	if r.spec.Network == moat.NetworkSinkhole {
		rep.metadata = rep.plan.ServeMetadata()
	}
	rep.audit = observe.NewCollector(func() int64 { return time.Since(start).Milliseconds() })
	for _, d := range scratchDirs(r.persona.Home) {
		rep.roots = append(rep.roots, observe.Root{Path: d.dst, Host: filepath.Join(r.scratch, d.name)})
	}
	if err := r.prepareShm(rep); err != nil {
		return nil, fmt.Errorf("the walk of /dev/shm: %w", err)
	}
	rep.roots = append(rep.roots, observe.Root{Path: shmDir, Host: filepath.Join(rep.shm, shmTree)})
	for _, p := range rep.plan.FilePaths() {
		rel, ok := strings.CutPrefix(p, r.persona.Home+"/")
		if !ok {
			return nil, fmt.Errorf("honeytoken %s outside home", p)
		}
		host := filepath.Join(r.scratch, "home", rel)
		if err := os.MkdirAll(filepath.Dir(host), 0o700); err != nil {
			return nil, err
		}
		for d := filepath.Dir(host); d != filepath.Join(r.scratch, "home"); d = filepath.Dir(d) {
			_ = os.Chown(d, sandboxID, sandboxID)
		}
		if err := os.WriteFile(host, []byte(rep.plan.Files[p]), 0o600); err != nil {
			return nil, err
		}
		if err := os.Chown(host, sandboxID, sandboxID); err != nil {
			return nil, err
		}
	}
	rep.armWitness(r.scratch, r.persona.Home)
	// The hook itself is the skeleton's, bound read-only.
	af := filepath.Join(r.scratch, auditFile)
	if err := os.WriteFile(af, nil, 0o600); err != nil {
		return nil, err
	}
	if err := os.Chown(af, sandboxID, sandboxID); err != nil {
		return nil, err
	}
	rep.before = observe.Walk(rep.roots, time.Now().Add(fsBudget))
	r.rep = rep
	env := append([]string(nil), rep.plan.Env...)
	if r.siteMount != "" {
		return env, nil // the hook is in the runtime's site directory
	}
	return observe.WithHookPath(env, r.persona.Tools+"/py"), nil
}

// armWitness starts the kernel-side witness of reads of the planted
// token files, on their host paths under scratch/home.
func (rep *report) armWitness(scratch, home string) {
	files := observe.TokenFiles(rep.plan.Tokens, rep.plan.Files, func(p string) string {
		return filepath.Join(scratch, "home", strings.TrimPrefix(p, home+"/"))
	})
	rep.witness, rep.armed = observe.ArmWitnessEvent(files)
}

// auditMount is the host file bound at audit.FIFO, "" with the report off.
func (r *runner) auditMount() string {
	if r.rep == nil {
		return ""
	}
	return filepath.Join(r.scratch, auditFile)
}

// startTail tails the hook's file until stopTail.
func (rep *report) startTail(path string) {
	rep.stop, rep.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(rep.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			rep.tail(path)
			select {
			case <-rep.stop:
				return
			case <-t.C:
			}
		}
	}()
}

func (rep *report) tail(path string) {
	rep.tailMu.Lock()
	defer rep.tailMu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() < rep.off {
		return // replaced or truncated by the program: its claims, its loss
	}
	n := maxAuditFile - rep.off
	if n <= 0 {
		return
	}
	k, _ := io.Copy(rep.audit, io.NewSectionReader(f, rep.off, n))
	rep.off += k
}

// finishReport collects the last audit lines, diffs the file system and
// parses the Sentry's trace into res. Everything in the sandbox is dead.
func (r *runner) finishReport(res *moat.Result) {
	rep := r.rep
	netEvs, netDropped := r.stopSink()
	if res == nil {
		if rep != nil {
			rep.witness.Close()
		}
		return
	}
	if rep == nil {
		moatreport.Finish(res, netEvs, netDropped, r.lim)
		return
	}
	if rep.stop != nil {
		close(rep.stop)
		<-rep.done
	}
	rep.tail(filepath.Join(r.scratch, auditFile))
	evs := append([]moat.Event(nil), rep.plan.Planted...)
	// The witness first: nothing of moat's has read the files yet.
	evs = append(append(evs, rep.armed), rep.witness.Check(time.Since(rep.start).Milliseconds())...)
	auditEvs, dropped := rep.audit.Events()
	evs = append(evs, auditEvs...)
	if res.Status != moat.StatusError || res.DurationMS > 0 {
		shmCut := rep.loadShm()
		deadline := time.Now().Add(fsBudget)
		after, cut := observe.WalkCut(rep.roots, deadline)
		if shmCut != "" {
			cut = strings.TrimPrefix(cut+"; "+shmCut, "; ")
		}
		d := observe.Differ{Tokens: rep.plan.Tokens, Planted: rep.plan.Files, Deadline: deadline, At: time.Since(rep.start).Milliseconds(), Cut: cut,
			Read:   func(p string, n int64) ([]byte, error) { return observe.ReadBounded(r.hostPath(p), n) },
			ReadAt: func(p string, off, n int64) ([]byte, error) { return observe.ReadBoundedAt(r.hostPath(p), off, n) },
			Data:   func(p string, off int64) (int64, int64, error) { return observe.DataAt(r.hostPath(p), off) },
			Xattrs: func(p string) ([]xattr.Attr, error) { return xattr.Read(r.hostPath(p)) }}
		fsEvs, fsDropped := d.Diff(rep.before, after)
		// Verified in a fresh gVisor sandbox of the run's interpreter
		// (this one is dead).
		verify := func(ctx context.Context, s *moat.Spec) (*moat.Result, error) {
			s.Python = r.spec.Python
			return r.b.Run(ctx, s)
		}
		if res.Status == moat.StatusCanceled {
			verify = moatreport.Unverified("the run was canceled")
		}
		fsEvs = moatreport.VerifyBytecode(fsEvs, d.Pycs, verify)
		evs = append(evs, fsEvs...)
		dropped += fsDropped
		evs = append(evs, survivors.Events(rep.outlived, time.Since(rep.start).Milliseconds())...)
	}
	kEvs, kDropped := r.straceEvents()
	if sum := hashFile("/", strings.TrimPrefix(r.rt.Executable, "/"), unix.RESOLVE_NO_MAGICLINKS); sum != "" {
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindInterpreter, Path: r.rt.Executable, SHA256: sum})
	}
	if r.spec.Launcher {
		moatreport.Launched(kEvs)
	}
	evs = append(evs, kEvs...)
	evs = append(evs, netEvs...)
	moatreport.Finish(res, evs, dropped+kDropped+netDropped, r.lim)
}

// execHash hashes the file an exec event names (its whole path, also
// past PATH_MAX), as it is after the run (a payload deleted after its
// exec, or a memfd, gets none): in a scratch directory, resolved beneath
// it without following any link (the program's), a long path a part
// below PATH_MAX at a time; in a
// read-only bind of the host's runtime, resolved on the host (its links
// are the runtime's own) and only if it stays in a bind. "" where it
// cannot be had.
func (r *runner) execHash(p string) sentry.Hashed { return r.execHashLinks(p, maxExecLinks) }

// execsRan holds, for each file in a scratch directory an exec ran, its
// hash as read right after the exec, and whether it had changed since
// (execRan), by the exec's whole path and time (its event's ms).
type execsRan struct {
	mu sync.Mutex
	m  map[execAt]execRead
}

type execAt struct {
	path string
	ms   int64
}

type execRead = sentry.Hashed

// maxRanReads bounds the files execRan reads whole (r.hashes.Reads(), an
// exec of a file read before costs a stat) and the execs it keeps.
const (
	maxRanReads = 256
	maxRanExecs = 8192
)

// execRan reads, while the program runs, the file each exec of the trace
// ran (msg: the exec's entry and exit, its exit logged at at), in a
// scratch directory (the runtime's binds are read-only): its hash, and
// whether it or a directory on its path changed after at. A file the run
// wrote is "the interpreter" only if its hash is the interpreter's, and
// read after the run a dropped binary could have been replaced by a copy
// of the interpreter (a rename) or deleted (a venv removed); read here,
// and its change times checked, neither hides what ran. A relative
// exec's directory is not known yet (a vfork's child execs before its
// parent's fork is logged): each working directory seen is tried.
func (r *runner) execRan(msg []byte, at time.Time, dirs []string) {
	seen := map[string]bool{}
	for _, d := range dirs {
		sentry.Parse(bytes.NewReader(msg), r.rep.start, 0, sentry.Options{Cwd: d, CwdAll: true, Hash: func(p string, ms int64) sentry.Hashed {
			if seen[p] || !r.inScratch(p) {
				return sentry.Hashed{}
			}
			seen[p] = true
			full := r.hashes.Reads() >= maxRanReads
			r.ran.mu.Lock()
			full = full || len(r.ran.m) >= maxRanExecs
			r.ran.mu.Unlock()
			if full {
				return sentry.Hashed{} // hashRan checks it at the end
			}
			read := r.execHash(p)
			read.Replaced = read.SHA256 != "" && r.changedSince(p, at, maxExecLinks)
			r.ran.mu.Lock()
			if r.ran.m == nil {
				r.ran.m = map[execAt]execRead{}
			}
			r.ran.m[execAt{p, ms}] = read
			r.ran.mu.Unlock()
			// A script's interpreter, which ran it with no exec of its
			// own (a venv's python the run made, then removed): read
			// now too, for Parse's hash of it (sentry: ScriptSHA256).
			if interp := path.Clean(seccomp.ScriptInterpreter(read.Script)); read.SHA256 != "" && path.IsAbs(interp) && r.inScratch(interp) {
				ir := r.execHash(interp)
				ir.Replaced = ir.SHA256 != "" && r.changedSince(interp, at, maxExecLinks)
				r.ran.mu.Lock()
				r.ran.m[execAt{interp, ms}] = ir
				r.ran.mu.Unlock()
			}
			return sentry.Hashed{}
		}})
	}
}

// hashRan is Parse's Hash: the file's hash as execRan read it right
// after the exec; else (execRan past its bounds, an exec's entry and
// exit not read together) as it is now, and no hash if it or a directory
// on its way changed since the exec (ms: its entry's time).
func (r *runner) hashRan(p string, ms int64) sentry.Hashed {
	r.ran.mu.Lock()
	read, ok := r.ran.m[execAt{p, ms}]
	r.ran.mu.Unlock()
	if ok && read.SHA256 != "" {
		return read
	}
	h := r.execHash(p)
	h.Replaced = h.SHA256 != "" && r.inScratch(p) && r.changedSince(p, r.rep.start.Add(time.Duration(ms+1)*time.Millisecond), maxExecLinks)
	return h
}

// inScratch: p (clean, absolute) is in a scratch directory.
func (r *runner) inScratch(p string) bool {
	for _, d := range scratchDirs(r.persona.Home) {
		if strings.HasPrefix(path.Clean(p), d.dst+"/") {
			return true
		}
	}
	return false
}

// changedSince says whether the file p names in a scratch directory, a
// directory on its way there or, for a link, the file it leads to (at
// most links of them) had its status changed after at: a rename or a
// link puts a file of an older change time in place only by changing
// the time of itself or of a directory above it. Resolved beneath the
// scratch directory, no link followed on the host.
func (r *runner) changedSince(p string, at time.Time, links int) bool {
	p = path.Clean(p)
	for _, d := range scratchDirs(r.persona.Home) {
		rest, ok := strings.CutPrefix(p, d.dst+"/")
		if !ok {
			continue
		}
		fd, err := unix.Open(filepath.Join(r.scratch, d.name), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return false
		}
		defer func() { unix.Close(fd) }()
		parts := strings.Split(rest, "/")
		for i, part := range parts {
			next, err := unix.Openat2(fd, part, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
				Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS})
			if err != nil {
				return false
			}
			unix.Close(fd)
			fd = next
			var st unix.Stat_t
			if unix.Fstat(fd, &st) != nil {
				return false
			}
			if time.Unix(st.Ctim.Unix()).After(at) {
				return true
			}
			if i == len(parts)-1 && st.Mode&unix.S_IFMT == unix.S_IFLNK && links > 0 {
				buf := make([]byte, unix.PathMax)
				n, err := unix.Readlinkat(fd, "", buf)
				if err != nil || n <= 0 || n >= len(buf) {
					return false
				}
				t := string(buf[:n])
				if !path.IsAbs(t) {
					t = path.Join(path.Dir(p), t)
				}
				return r.changedSince(t, at, links-1)
			}
		}
		return false
	}
	return false
}

// maxExecLinks bounds the program's links execHash reads on its way to
// the file an exec ran (a venv's bin/python is one or two: python ->
// python3 -> the runtime's interpreter).
const maxExecLinks = 8

// execHashLinks is execHash with at most links of the program's links
// read: a link in a scratch directory is never followed on the host; its
// target is read and taken as the sandbox would (an absolute one from
// the sandbox's root, a relative one from the link's directory) and
// hashed by the same rules, so a venv's bin/python the run made, which
// links to the runtime's interpreter, is hashed as that interpreter.
func (r *runner) execHashLinks(p string, links int) sentry.Hashed {
	p = path.Clean(p)
	if !path.IsAbs(p) {
		return sentry.Hashed{}
	}
	for _, d := range r.reportDirs() {
		if rest, ok := strings.CutPrefix(p, d.dst+"/"); ok {
			sum := hashFileCached(&r.hashes, d.name, rest, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS)
			if sum.SHA256 == "" && links > 0 && len(rest) < unix.PathMax {
				if t, ok := readLinkBeneath(d.name, rest); ok {
					if !path.IsAbs(t) {
						t = path.Join(path.Dir(p), t)
					}
					return r.execHashLinks(t, links-1)
				}
			}
			return sum
		}
	}
	for _, b := range r.rt.Paths {
		if p == b || strings.HasPrefix(p, b+"/") {
			return hashFileCached(&r.hashes, "/", p[1:], unix.RESOLVE_NO_MAGICLINKS, r.rt.Paths...)
		}
	}
	return sentry.Hashed{}
}

// readLinkBeneath reads the link rel under dir (its directories resolved
// beneath dir, no link followed), its target at most PATH_MAX bytes.
func readLinkBeneath(dir, rel string) (string, bool) {
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS})
	if err != nil {
		return "", false
	}
	defer unix.Close(fd)
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil || n <= 0 || n >= len(buf) {
		return "", false
	}
	return string(buf[:n]), true
}

// hashFile returns the sha256 of the regular file rel under dir, opened
// with resolve (a rel past PATH_MAX its directories first, each part
// below PATH_MAX opened with resolve from the one before); with within,
// only if the file reached is in one of those host paths.
func hashFile(dir, rel string, resolve uint64, within ...string) string {
	return hashFileCached(nil, dir, rel, resolve, within...).SHA256
}

// hashFileCached is hashFile with the hashes of c (nil: none kept; an
// exec of a file read before costs a stat: a suite runs a venv's python
// hundreds of times), and the file's "#!" line.
func hashFileCached(c *seccomp.ExecHashes, dir, rel string, resolve uint64, within ...string) (h sentry.Hashed) {
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return h
	}
	defer func() { unix.Close(root) }()
	for len(rel) >= unix.PathMax && len(within) == 0 {
		i := strings.LastIndexByte(rel[:unix.PathMax-1], '/')
		if i <= 0 {
			return h
		}
		d, err := unix.Openat2(root, rel[:i], &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolve})
		if err != nil {
			return h
		}
		unix.Close(root)
		root, rel = d, rel[i+1:]
	}
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY, Resolve: resolve})
	if err != nil {
		return h
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	defer func() {
		if h.SHA256 != "" {
			h.Script = seccomp.ScriptLine(f)
		}
	}()
	if len(within) > 0 {
		real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		in := false
		for _, w := range within {
			in = in || (err == nil && (real == w || strings.HasPrefix(real, w+"/")))
		}
		if !in {
			return h
		}
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > seccomp.MaxExecHash {
		return h
	}
	if c == nil {
		c = &seccomp.ExecHashes{}
	}
	h.SHA256 = c.Sum(f, &st)
	return h
}

// hostPath maps a path of a writable place inside to the scratch tmpfs.
func (r *runner) hostPath(p string) string {
	for _, d := range r.reportDirs() {
		if rest, ok := strings.CutPrefix(p, d.dst+"/"); ok {
			return filepath.Join(d.name, rest)
		}
	}
	return filepath.Join(r.scratch, "nonexistent")
}

// reportDirs are the writable places the report reads on the host: dst
// inside, name its host directory (the scratch directories, and /dev/shm
// as the init's walk unpacked).
func (r *runner) reportDirs() []scratchDir {
	var ds []scratchDir
	for _, d := range scratchDirs(r.persona.Home) {
		ds = append(ds, scratchDir{name: filepath.Join(r.scratch, d.name), dst: d.dst})
	}
	if r.rep != nil && r.rep.shm != "" {
		ds = append(ds, scratchDir{name: filepath.Join(r.rep.shm, shmTree), dst: shmDir})
	}
	return ds
}

func (r *runner) straceEvents() ([]moat.Event, int) {
	if r.sentry == nil {
		return nil, 0
	}
	evs, dropped := sentry.Parse(bytes.NewReader(r.sentry.kept.Bytes()), r.rep.start, kbudget.MaxEvents,
		sentry.Options{Cwd: workDir, Hash: r.hashRan, Init: r.rep.shm != ""})
	if ev, ok := sentry.CutEvent(r.sentry.cut); ok {
		evs = append(evs, ev)
	}
	if ev, n, ok := r.sentry.budget.Event(sentry.KeptWhat); ok {
		evs, dropped = append(evs, ev), dropped+n
	}
	return evs, dropped + r.sentry.cut
}

// metadata is what the sinkhole serves at the metadata address: the
// report's, whose credentials are honeytokens; nil without a report
// (the sink makes its own).
func (r *runner) metadata() *honeytoken.Metadata {
	if r.rep == nil {
		return nil
	}
	return r.rep.metadata
}

// networkLayer says what the run's network is.
func (r *runner) networkLayer() moat.Layer {
	if r.netns == nil {
		return moat.Layer{Name: "network-none", Detail: "runsc --network=none: loopback only"}
	}
	return moat.Layer{Name: "network-sinkhole", Detail: "runsc --network=host in a network namespace of the run's own with only lo and no route out: " +
		"every name resolves, every TCP and UDP flow is answered and recorded by moat's sink (TLS read in clear with the run's CA, the metadata address with fake credentials, \"what is my IP\" services with a home ISP's address, script downloads with an inert stand-in); " +
		"the program's sockets are the host kernel's (hostinet), in that namespace only"}
}

// reportLayer says what the report of this run is made of.
func (r *runner) reportLayer() moat.Layer {
	if r.rep == nil {
		return moat.Layer{Name: "behaviour-report", Detail: "off (Spec.NoReport: --no-report)"}
	}
	return moat.Layer{Name: "behaviour-report", Detail: "kernel: the Sentry's syscall trace (runsc --strace, " + sentry.Syscalls + "," + sentry.CwdSyscalls + "," + sentry.ListenSyscalls +
		") and the calls its OCI profile refused (runsc --debug's log); audit hook read-only at " + r.persona.Tools + "/py; honeytokens in the home; diff of /work, the home and /tmp, and of /dev/shm (a tmpfs inside the Sentry) as pid 1, moat's, packed it after every other process was dead"}
}
