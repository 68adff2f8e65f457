package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// host is everything of the machine this package touches. The real one reads
// /proc and writes cgroupfs; tests point it at a directory tree that imitates
// cgroupfs. Every path the package builds derives from the mountinfo and
// /proc/self/cgroup files named here.
type host struct {
	mountinfo  string // path of a mountinfo file
	selfCgroup string // path of a /proc/<pid>/cgroup file
	uid        int    // effective uid deciding root vs delegated layout

	mkdir    func(path string) error // create one cgroup directory
	rmdir    func(path string) error // remove one cgroup directory
	writable func(path string) bool  // whether we may write path
	kill     func(pid int) error     // send SIGKILL to pid
	self     int                     // our own pid, never killed
	sleep    func(d time.Duration)   // between polls
	now      func() time.Time

	cloneInto bool // the kernel has CLONE_INTO_CGROUP (Linux 5.7)
}

// realHost is the running system.
func realHost() *host {
	return &host{
		mountinfo:  "/proc/self/mountinfo",
		selfCgroup: "/proc/self/cgroup",
		uid:        os.Geteuid(),
		mkdir:      func(p string) error { return os.Mkdir(p, 0o755) },
		rmdir:      syscall.Rmdir,
		writable:   func(p string) bool { return syscall.Access(p, 2 /* W_OK */) == nil },
		kill:       func(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) },
		self:       os.Getpid(),
		sleep:      time.Sleep,
		now:        time.Now,
		cloneInto:  kernelAtLeast(5, 7),
	}
}

// kernelAtLeast reports whether the running kernel's release is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return false
	}
	var rel []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	var maj, min int
	if _, err := fmt.Sscanf(string(rel), "%d.%d", &maj, &min); err != nil {
		return false
	}
	return maj > major || (maj == major && min >= minor)
}

// New creates a fresh group named name (e.g. "moat-<runid>") and applies
// limits.
//
// A limit that is nonzero but cannot be set is an error wrapping
// [ErrUnavailable] naming the controller; the caller decides whether to
// fail closed. On any error nothing created for the group is left behind.
// A group of that name must not exist yet: New never adopts a directory it
// did not create.
func New(name string, l Limits) (Group, error) { return realHost().new(name, l) }

// Probe reports what [New] would be able to do here without creating
// anything: the cgroup version, the base directory and the controllers that
// can be limited. When groups cannot be created at all it returns an error
// wrapping [ErrUnavailable] that says why and how to fix it.
func Probe() (Info, error) { return realHost().probe() }

func (h *host) probe() (Info, error) {
	lay, err := h.detect()
	if err != nil {
		return Info{}, err
	}
	return lay.info(), nil
}

// GC removes leftover groups whose name starts with prefix and that hold no
// processes (for `moat gc`) and returns the names removed. A group that a
// concurrent run has created but not yet joined looks like a leftover; if GC
// removes it, that run's AddProc fails, so a race fails closed.
func GC(prefix string) ([]string, error) { return realHost().gc(prefix) }

// layout is where groups go on this host.
type layout struct {
	version int
	// v1: controller name → base directory <mount>/moat, for the
	// controllers this package uses (memory, pids, cpu, freezer) that are
	// mounted. Controllers sharing a hierarchy share a directory.
	v1 map[string]string
	// v2: the directory whose subtree we may manage (the cgroup2 mount
	// point for root, the delegated subtree otherwise), and base = top/moat.
	top, base string
	// controllers that can be limited, in the order memory, pids, cpu.
	controllers []string
}

func (lay layout) info() Info {
	base := lay.base
	if lay.version == 1 {
		base = lay.v1["memory"]
	}
	return Info{Version: lay.version, Base: base, Controllers: slices.Clone(lay.controllers)}
}

// limitable are the controllers whose limits this package sets.
var limitable = []string{"memory", "pids", "cpu"}

// detect decides the layout: v1 when the memory controller is on a v1
// hierarchy (legacy and hybrid hosts), else v2 when a cgroup2 file system
// with controllers is mounted (preferring /sys/fs/cgroup). It creates
// nothing.
func (h *host) detect() (layout, error) {
	f, err := os.Open(h.mountinfo)
	if err != nil {
		return layout{}, fmt.Errorf("cgroup: %w: read mount table: %w", ErrUnavailable, err)
	}
	mounts, err := parseMountinfo(f)
	f.Close()
	if err != nil {
		return layout{}, err
	}
	v1 := map[string]string{}
	var v2 *mount
	for i, m := range mounts {
		for _, c := range m.Controllers {
			if _, seen := v1[c]; !seen {
				v1[c] = m.Point
			}
		}
		if m.Version == 2 && (v2 == nil || m.Point == "/sys/fs/cgroup") {
			v2 = &mounts[i]
		}
	}
	if _, ok := v1["memory"]; ok {
		return h.detectV1(v1)
	}
	if v2 != nil {
		if c, _ := os.ReadFile(filepath.Join(v2.Point, "cgroup.controllers")); len(bytes.TrimSpace(c)) > 0 {
			return h.detectV2(*v2)
		}
		return layout{}, fmt.Errorf("cgroup: %w: cgroup2 at %s has no controllers and no v1 memory hierarchy is mounted", ErrUnavailable, v2.Point)
	}
	return layout{}, fmt.Errorf("cgroup: %w: no cgroup file system is mounted (see %s)", ErrUnavailable, h.mountinfo)
}

// detectV1 lays groups out as <mount>/moat/<name> in each used hierarchy.
// The base must be writable (or, if it does not exist yet, its mount point):
// in practice that means root, or an administrator who pre-created and
// chowned the moat directories.
func (h *host) detectV1(mounts map[string]string) (layout, error) {
	lay := layout{version: 1, v1: map[string]string{}}
	for _, c := range []string{"memory", "pids", "cpu", "freezer"} {
		p, ok := mounts[c]
		if !ok {
			continue
		}
		base := filepath.Join(p, "moat")
		check := base
		if _, err := os.Stat(base); errors.Is(err, fs.ErrNotExist) {
			check = p
		}
		if !h.writable(check) {
			if c == "memory" {
				return layout{}, fmt.Errorf("cgroup: %w: cgroup v1 %s hierarchy %s is not writable by uid %d; run as root, or have root create %s and chown it (with its cgroup.procs) to uid %d in every hierarchy",
					ErrUnavailable, c, check, h.uid, base, h.uid)
			}
			continue
		}
		lay.v1[c] = base
		if c != "freezer" {
			lay.controllers = append(lay.controllers, c)
		}
	}
	return lay, nil
}

// detectV2 finds the subtree we may manage. Root manages the whole mount
// and uses <mount>/moat. Anyone else needs a delegated subtree: starting at
// its own cgroup (from /proc/self/cgroup) it climbs while the directory and
// its cgroup.procs stay writable and takes the highest such directory
// (typically .../user@UID.service). The highest, not the nearest, because
// moving a pid between groups requires write access to cgroup.procs of their
// common ancestor, and because our own cgroup holds processes and so cannot
// enable controllers for children (the no-internal-process rule).
func (h *host) detectV2(m mount) (layout, error) {
	lay := layout{version: 2}
	if h.uid == 0 {
		lay.top = m.Point
	} else {
		top, err := h.delegatedTop(m)
		if err != nil {
			return layout{}, err
		}
		lay.top = top
	}
	lay.base = filepath.Join(lay.top, "moat")
	avail := map[string]bool{}
	c, err := os.ReadFile(filepath.Join(lay.top, "cgroup.controllers"))
	if err != nil {
		return layout{}, fmt.Errorf("cgroup: %w: %w", ErrUnavailable, err)
	}
	for _, f := range strings.Fields(string(c)) {
		avail[f] = true
	}
	for _, c := range limitable {
		if avail[c] {
			lay.controllers = append(lay.controllers, c)
		}
	}
	return lay, nil
}

func (h *host) delegatedTop(m mount) (string, error) {
	const hint = "run under `systemd-run --user --scope -p Delegate=yes` (or as root)"
	f, err := os.Open(h.selfCgroup)
	if err != nil {
		return "", fmt.Errorf("cgroup: %w: %w", ErrUnavailable, err)
	}
	own, ok, err := parseSelfCgroup(f)
	f.Close()
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("cgroup: %w: %s has no cgroup v2 entry", ErrUnavailable, h.selfCgroup)
	}
	rel := own
	if m.Root != "/" {
		var ok bool
		rel, ok = strings.CutPrefix(own, m.Root)
		ok = ok && (rel == "" || strings.HasPrefix(rel, "/"))
		if !ok {
			return "", fmt.Errorf("cgroup: %w: own cgroup %s is outside the cgroup2 mount at %s (root %s)", ErrUnavailable, own, m.Point, m.Root)
		}
	}
	dir := filepath.Join(m.Point, filepath.Clean("/"+rel))
	top := ""
	for {
		if !h.writable(dir) || !h.writable(filepath.Join(dir, "cgroup.procs")) {
			break
		}
		top = dir
		if dir == m.Point {
			break
		}
		dir = filepath.Dir(dir)
	}
	if top == "" {
		return "", fmt.Errorf("cgroup: %w: cgroup v2 at %s is not delegated to uid %d (own cgroup %s is not writable); %s",
			ErrUnavailable, m.Point, h.uid, filepath.Join(m.Point, filepath.Clean("/"+rel)), hint)
	}
	return top, nil
}

func (h *host) new(name string, l Limits) (Group, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := checkLimits(l); err != nil {
		return nil, err
	}
	lay, err := h.detect()
	if err != nil {
		return nil, err
	}
	if lay.version == 1 {
		return h.newV1(lay, name, l)
	}
	return h.newV2(lay, name, l)
}

// checkName refuses names that are not a single fresh path element.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00\n") ||
		strings.HasPrefix(name, "cgroup.") {
		return fmt.Errorf("cgroup: create %q: invalid group name", name)
	}
	return nil
}

// minCPUs is the smallest CPU quota the kernel accepts: 1 ms per 100 ms.
const minCPUs = 0.01

func checkLimits(l Limits) error {
	switch {
	case l.Memory < 0:
		return fmt.Errorf("cgroup: memory limit %d is negative", l.Memory)
	case l.Pids < 0:
		return fmt.Errorf("cgroup: pids limit %d is negative", l.Pids)
	case l.CPUs != 0 && !(l.CPUs >= minCPUs && l.CPUs <= 1e6): // also refuses NaN
		return fmt.Errorf("cgroup: cpu limit %g is outside [%g, 1e6] cores", l.CPUs, minCPUs)
	}
	return nil
}

// cpuPeriod is the CFS period in microseconds; the quota is CPUs × period.
const cpuPeriod = 100000

func cpuQuota(cpus float64) int64 { return int64(cpus*cpuPeriod + 0.5) }

func limited(l Limits) []string {
	var c []string
	if l.Memory > 0 {
		c = append(c, "memory")
	}
	if l.Pids > 0 {
		c = append(c, "pids")
	}
	if l.CPUs > 0 {
		c = append(c, "cpu")
	}
	return c
}

// writeFile writes s to an existing cgroup file in one write(2). It never
// creates the file: a missing interface file means the controller is off.
func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("cgroup: write %s: %w", path, err)
	}
	_, err = f.Write([]byte(s))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cgroup: write %q to %s: %w", s, path, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readKeyed returns key from a flat-keyed file; a missing file or key is
// reported as ok = false.
func readKeyed(path, key string) (n int64, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cgroup: stats: %w", err)
	}
	n, err = parseKeyed(b, key)
	if errors.Is(err, errNoKey) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cgroup: stats %s: %w", path, err)
	}
	return n, true, nil
}

// readInt reads a single-number file; a missing file is ok = false.
func readInt(path string) (n int64, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cgroup: stats: %w", err)
	}
	n, err = parseInt(b)
	if err != nil {
		return 0, false, fmt.Errorf("cgroup: stats %s: %w", path, err)
	}
	return n, true, nil
}

// mkdirBase creates a shared base directory if missing. It is never removed.
func (h *host) mkdirBase(dir string) error {
	if err := h.mkdir(dir); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("cgroup: create %s: %w", dir, err)
	}
	return nil
}

// removeTree removes dir and, first, any group directories below it (which
// the sandboxed program may have made on a delegated v2 tree). A missing
// dir is not an error.
func (h *host) removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cgroup: remove %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, h.removeTree(filepath.Join(dir, e.Name())))
		}
	}
	if err := h.rmdir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("cgroup: remove %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

// treePids lists the processes in dir and every group below it.
func treePids(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		f, err := os.Open(filepath.Join(p, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		ps, err := parsePids(f)
		pids = append(pids, ps...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cgroup: list processes in %s: %w", dir, err)
	}
	return pids, nil
}

func (h *host) gc(prefix string) ([]string, error) {
	lay, err := h.detect()
	if err != nil {
		return nil, err
	}
	var bases []string
	if lay.version == 1 {
		for _, b := range lay.v1 {
			if !slices.Contains(bases, b) {
				bases = append(bases, b)
			}
		}
	} else {
		bases = []string{lay.base}
	}
	// A name is a leftover if no hierarchy has a process in it.
	names := map[string]bool{}
	for _, b := range bases {
		entries, err := os.ReadDir(b)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cgroup: gc %s: %w", b, err)
		}
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				names[e.Name()] = true
			}
		}
	}
	var removed []string
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(names)) {
		busy := false
		for _, b := range bases {
			pids, err := treePids(filepath.Join(b, name))
			if err != nil || len(pids) > 0 {
				busy = true
				errs = append(errs, err)
			}
		}
		if busy {
			continue
		}
		var rmErrs []error
		for _, b := range bases {
			rmErrs = append(rmErrs, h.removeTree(filepath.Join(b, name)))
		}
		if err := errors.Join(rmErrs...); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}
