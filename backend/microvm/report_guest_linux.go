package microvm

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/xattr"
	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
)

// The behaviour report, guest side: the agent does in the guest what
// native's sandbox init does in its sandbox (internal/sandbox/nsinit),
// with internal/observe's pieces:
//
//   - it plants the honeytokens in the home and arms the witness of their
//     reads (observe.Witness): the guest kernel keeps the files' access
//     and change times, which the program, unprivileged, can neither
//     stop nor reset (O_NOATIME is refused by the seccomp deny list);
//   - it installs the audit hook's FIFO (and, off the site directory,
//     its module) in the run's tools directory, a tmpfs it makes
//     read-only at a temporary directory's name drawn by the host each
//     run (GuestReport.Tools), and reads the FIFO for the whole run;
//   - it walks /work, the home, /tmp and /dev/shm before the program and
//     after everything of it is dead, and diffs the walks.
//
// The events go to the host as 'V' frames after the exit frame, then 'v'
// with the count of those dropped. The host bounds and cleans them and
// believes none of them more than it believes the guest (report_linux.go).

// budget bounds each walk of the writable directories and the diff's
// reads (GuestReport.BudgetMS).
func (r *guestReporter) budget() time.Duration {
	if r.cfg.BudgetMS > 0 {
		return time.Duration(r.cfg.BudgetMS) * time.Millisecond
	}
	return observe.FSBudget
}

// guestReporter collects one run's report in the guest.
type guestReporter struct {
	cfg      *GuestReport
	start    time.Time
	home     string // the persona's home
	audit    *observe.Collector
	fifo     *os.File
	readDone chan struct{}
	endMark  []byte
	before   observe.Snapshot
	witness  *observe.Witness
	armed    moat.Event
	// net are the sinkhole's events, netDropped the count of those
	// over its bound.
	net        []moat.Event
	netDropped int
	// kernel serves the program's seccomp listener.
	kernel *guestKernel
	// outlived: what was still running when the program ended, which the
	// agent then killed (run; package survivors).
	outlived []survivors.Process
}

// reportRoots are the writable directories the report walks; home is the
// persona's.
func reportRoots(home string) []observe.Root {
	return []observe.Root{{Path: guestWork, Host: guestWork}, {Path: home, Host: home}, {Path: guestTmp, Host: guestTmp}, {Path: "/dev/shm", Host: "/dev/shm"}}
}

// startReport plants the tokens, installs the hook and its FIFO, and
// takes the "before" walk of the writable directories (home is the
// persona's). Nothing of the program runs yet.
func startReport(cfg *GuestReport, t0 time.Time, home string, age time.Duration) (*guestReporter, error) {
	r := &guestReporter{cfg: cfg, start: t0, home: home}
	r.audit = observe.NewCollector(func() int64 { return time.Since(r.start).Milliseconds() })
	// The files and their witness (which sets their access and
	// modification times back, moving their change time) while the
	// guest's clock is age back.
	err := withClockBack(age, func() error {
		if err := plant(cfg.Files, home); err != nil {
			return err
		}
		files := observe.TokenFiles(cfg.Tokens, cfg.Files, func(p string) string { return p })
		r.witness, r.armed = observe.ArmWitnessEvent(files)
		return nil
	})
	if err != nil {
		r.witness.Close()
		return nil, err
	}

	if err := installHook(cfg); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(cfg.Tools+"/audit", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("audit fifo: %w", err)
	}
	r.fifo = f
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	r.endMark = []byte(fmt.Sprintf("\x00end %x\n", nonce))
	r.readDone = make(chan struct{})
	go r.readAudit()
	r.before = observe.Walk(reportRoots(home), time.Now().Add(r.budget()))
	return r, nil
}

// withClockBack runs f with the guest's clock set age back: a home's
// credentials were written long before the program ran, and the change
// time of what f writes, which nothing can set back afterwards, says so.
// The guest's clock is the run's alone; it is set forward again (by the
// monotonic clock) before anything else happens. Reads still move the
// access time (relatime), which the witness keeps.
func withClockBack(age time.Duration, f func() error) (err error) {
	if age <= 0 {
		return f()
	}
	now := time.Now()
	back := unix.NsecToTimeval(now.Add(-age).UnixNano())
	if err := unix.Settimeofday(&back); err != nil {
		return fmt.Errorf("set the guest's clock back: %w", err)
	}
	defer func() {
		tv := unix.NsecToTimeval(now.Add(time.Since(now)).UnixNano())
		if serr := unix.Settimeofday(&tv); serr != nil && err == nil {
			err = fmt.Errorf("set the guest's clock: %w", serr)
		}
	}()
	return f()
}

// plant writes the home's planted files (the honeytokens and the home's
// other files of the plan), the sandbox user's.
func plant(planted map[string]string, home string) error {
	names := make([]string, 0, len(planted))
	for p := range planted {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if filepath.Clean(p) != p || !strings.HasPrefix(p, home+"/") {
			return fmt.Errorf("honeytoken %q outside the home", p)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		for d := filepath.Dir(p); d != home && d != "/"; d = filepath.Dir(d) {
			_ = os.Lchown(d, sandboxID, sandboxID)
		}
		if err := os.WriteFile(p, []byte(planted[p]), 0o600); err != nil {
			return err
		}
		if err := os.Lchown(p, sandboxID, sandboxID); err != nil {
			return err
		}
	}
	return nil
}

// readAudit drains the FIFO for the whole run, until the agent's own end
// mark (a secret the program does not know) comes behind every write.
func (r *guestReporter) readAudit() {
	defer close(r.readDone)
	r.audit.ReadUntil(r.fifo, r.endMark)
}

// finish collects the report once the program and everything it started
// are dead, and sends it.
func (r *guestReporter) finish(fw *frameWriter) error {
	_, _ = r.fifo.Write(r.endMark)
	_ = r.fifo.SetReadDeadline(time.Now().Add(time.Second))
	<-r.readDone
	now := time.Since(r.start).Milliseconds()
	// The witness first: nothing of the agent's has read the files yet.
	evs := append([]moat.Event{r.armed}, r.witness.Check(now)...)
	deadline := time.Now().Add(r.budget())
	after, cut := observe.WalkCut(reportRoots(r.home), deadline)
	d := observe.Differ{Tokens: r.cfg.Tokens, Planted: r.cfg.Files, Read: observe.ReadBounded, ReadAt: observe.ReadBoundedAt, Data: observe.DataAt, Xattrs: xattr.Read, Deadline: deadline, At: now, Cut: cut}
	fsEvs, dropped := d.Diff(r.before, after)
	auditEvs, auditDropped := r.audit.Events()
	evs = append(append(append(evs, auditEvs...), fsEvs...), r.net...)
	evs = append(evs, survivors.Events(r.outlived, now)...)
	dropped += auditDropped + r.netDropped
	if r.kernel != nil {
		kEvs, kDropped := r.kernel.stop()
		evs = append(evs, kEvs...)
		dropped += kDropped
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].TimeMS < evs[j].TimeMS })
	// As many events to a frame as fit; an event too big for one alone
	// is counted, not sent.
	var batch []json.RawMessage
	size := 2
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		b, _ := json.Marshal(batch)
		batch, size = batch[:0], 2
		return fw.write(frameEvents, b)
	}
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil || len(b)+2 > maxGuestFrame {
			dropped++
			continue
		}
		if size+len(b)+1 > maxGuestFrame {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, b)
		size += len(b) + 1
	}
	if err := flush(); err != nil {
		return err
	}
	// The suspect bytecode and its sources, within the diff's bounds, for
	// the host's verification in a fresh guest (report.VerifyBytecode).
	if len(d.Pycs) > 0 {
		if b, err := json.Marshal(d.Pycs); err == nil {
			if _, err := fw.stream(framePycs).Write(b); err != nil {
				return err
			}
		}
	}
	b, _ := json.Marshal(EventsEnd{Dropped: dropped})
	return fw.write(frameEventsEnd, b)
}

// installHook makes the run's tools directory (cfg.Tools, checked): a
// root-owned directory in the sticky /tmp (the program can neither
// rename nor remove it) with a tmpfs on it that holds the hook's FIFO
// (audit) and, off the site directory, its module (py/), made read-only
// before the program starts (a FIFO on a read-only file system still
// opens for writing). In the site directory of the runtime image, whose
// .pth line names the image's own FIFO path, it binds the run's .pth
// line and the RECORD that lists it (their hashes) over the image's:
// the hook's place is the run's, no constant of moat's.
func installHook(cfg *GuestReport) error {
	tools := cfg.Tools
	if err := checkTools(tools); err != nil {
		return err
	}
	if err := os.Mkdir(tools, 0o755); err != nil {
		return fmt.Errorf("tools directory: %w", err)
	}
	if err := unix.Mount("tmpfs", tools, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=4m"); err != nil {
		return fmt.Errorf("mount %s: %w", tools, err)
	}
	if !cfg.HookInSite {
		if err := os.Mkdir(tools+"/py", 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(tools+"/py/sitecustomize.py", []byte(audit.Hook()), 0o644); err != nil {
			return err
		}
	}
	if !cfg.HookInSite && cfg.StartupLoader != "" {
		// The hook as the loader in encodings finds it (bindStartup).
		if err := os.WriteFile(tools+"/py/"+audit.Module+".py", []byte(audit.Hook()), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(tools+"/py/"+audit.PthFile, []byte(audit.PthLine(tools+"/audit")), 0o644); err != nil {
			return err
		}
	}
	if bc := cfg.Bytecode; !cfg.HookInSite && bc != nil && bc.Tag != "" && !strings.ContainsAny(bc.Tag, "/\x00") {
		p := tools + "/py/" + bc.Name()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, bc.Data, 0o644); err != nil {
			return err
		}
	}
	fifo := tools + "/audit"
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return fmt.Errorf("audit fifo: %w", err)
	}
	if err := os.Chmod(fifo, 0o622); err != nil {
		return err
	}
	if cfg.HookInSite {
		if err := bindSitePth(cfg.Site, fifo); err != nil {
			return fmt.Errorf("hook's .pth: %w", err)
		}
	}
	if err := unix.Mount("", tools, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("remount %s read-only: %w", tools, err)
	}
	if !cfg.HookInSite && cfg.StartupLoader != "" {
		// Fail closed: without the bind, an interpreter that skips
		// PYTHONPATH runs without the hook, and says no hello.
		_ = bindStartup(cfg.Python, cfg.StartupLoader)
	}
	return nil
}

// encodingsOf finds the encodings package of the interpreter python (its
// real path): Python's standard library at lib/pythonX.Y of its prefix,
// the directory above its bin; "" when there is not exactly one.
func encodingsOf(python string) string {
	if !filepath.IsAbs(python) || filepath.Clean(python) != python {
		return ""
	}
	lib := filepath.Join(filepath.Dir(filepath.Dir(python)), "lib")
	var found []string
	if base := filepath.Base(python); strings.HasPrefix(base, "python3.") {
		found = []string{filepath.Join(lib, base, "encodings", "__init__.py")}
	} else {
		found, _ = filepath.Glob(filepath.Join(lib, "python3.*", "encodings", "__init__.py"))
	}
	if len(found) != 1 {
		return ""
	}
	if fi, err := os.Lstat(found[0]); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return found[0]
}

// bindStartup binds, read-only, the image's encodings/__init__.py with
// loader appended over it, and an empty file over each of its compiled
// forms (a .pyc of the wrong magic is passed over, and the bound source
// compiled at each start: some milliseconds), from a tmpfs of their own
// at guestScratch, detached once bound.
func bindStartup(python, loader string) error {
	pkg := encodingsOf(python)
	if pkg == "" {
		return fmt.Errorf("no encodings package beside %q", python)
	}
	src, err := os.ReadFile(pkg)
	if err != nil {
		return err
	}
	if len(src) > 0 && src[len(src)-1] != '\n' {
		src = append(src, '\n')
	}
	src = append(src, loader...)
	pycs, _ := filepath.Glob(filepath.Join(filepath.Dir(pkg), "__pycache__", "__init__.*.pyc"))
	if err := unix.Mount("tmpfs", guestScratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("mount %s: %w", guestScratch, err)
	}
	defer unix.Unmount(guestScratch, unix.MNT_DETACH)
	binds := []struct {
		dst  string
		data []byte
	}{{pkg, src}}
	for _, p := range pycs {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			binds = append(binds, struct {
				dst  string
				data []byte
			}{p, nil})
		}
	}
	// The compiled forms first: a source bound without them would run
	// the image's own code, without the loader.
	for i := len(binds) - 1; i >= 0; i-- {
		b := binds[i]
		s := filepath.Join(guestScratch, strconv.Itoa(i))
		if err := bindReadOnly(s, b.dst, b.data); err != nil {
			return err
		}
	}
	return nil
}

// bindReadOnly writes data to src and binds it read-only over dst.
func bindReadOnly(src, dst string, data []byte) error {
	if err := os.WriteFile(src, data, 0o644); err != nil {
		return err
	}
	err := unix.Mount(src, dst, "", unix.MS_BIND, "")
	if err == nil {
		err = unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
	}
	if err != nil {
		return fmt.Errorf("bind %s: %w", dst, err)
	}
	return nil
}

// bindSitePth binds, over the site directory's audit.PthFile and its
// distribution's RECORD, the run's: the .pth line with the run's FIFO,
// and RECORD with that line's hash and size in place of the image's.
func bindSitePth(site, fifo string) error {
	if !filepath.IsAbs(site) || filepath.Clean(site) != site {
		return fmt.Errorf("site directory %q", site)
	}
	pth := audit.PthLine(fifo)
	record := filepath.Join(site, audit.DistInfo, "RECORD")
	old, err := os.ReadFile(record)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(pth))
	row := audit.PthFile + ",sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]) + "," + strconv.Itoa(len(pth))
	lines := strings.Split(string(old), "\n")
	found := false
	for i, l := range lines {
		if strings.HasPrefix(l, audit.PthFile+",") {
			lines[i], found = row, true
		}
	}
	if !found {
		return fmt.Errorf("%s lists no %s", record, audit.PthFile)
	}
	// Their sources on a tmpfs of their own at guestScratch, detached
	// once bound (the binds hold it): nothing of them in tools, and no
	// file removed while bound, which would keep tools from going
	// read-only (EBUSY).
	if err := unix.Mount("tmpfs", guestScratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("mount %s: %w", guestScratch, err)
	}
	defer unix.Unmount(guestScratch, unix.MNT_DETACH)
	for i, b := range []struct{ dst, data string }{{filepath.Join(site, audit.PthFile), pth}, {record, strings.Join(lines, "\n")}} {
		if err := bindReadOnly(filepath.Join(guestScratch, strconv.Itoa(i)), b.dst, []byte(b.data)); err != nil {
			return err
		}
	}
	return nil
}
