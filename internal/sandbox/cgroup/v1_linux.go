package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// v1Group is a group on cgroup v1: one directory <mount>/moat/<name> per
// hierarchy used. memory is always present; pids and freezer when mounted;
// cpu only when a CPU limit is set. dirs holds each directory once, in
// creation order, even when controllers share a hierarchy.
type v1Group struct {
	h       *host
	ctl     map[string]string // controller → its group directory
	dirs    []string
	limited []string

	mu        sync.Mutex
	destroyed bool
}

var _ Group = (*v1Group)(nil)

func (h *host) newV1(lay layout, name string, l Limits) (_ Group, err error) {
	g := &v1Group{h: h, ctl: map[string]string{}, limited: limited(l)}
	for _, c := range g.limited {
		if _, ok := lay.v1[c]; !ok {
			return nil, fmt.Errorf("cgroup: create %s: %w: the v1 %s controller is not mounted or not writable", name, ErrUnavailable, c)
		}
	}
	defer func() {
		if err != nil {
			g.removeDirs()
		}
	}()
	for _, c := range []string{"memory", "pids", "cpu", "freezer"} {
		base, ok := lay.v1[c]
		if !ok || (c == "cpu" && l.CPUs == 0) {
			continue
		}
		dir := filepath.Join(base, name)
		if !slices.Contains(g.dirs, dir) {
			if err := h.mkdirBase(base); err != nil {
				return nil, err
			}
			if err := h.mkdir(dir); err != nil {
				return nil, fmt.Errorf("cgroup: create %s: %w", dir, err)
			}
			g.dirs = append(g.dirs, dir)
		}
		g.ctl[c] = dir
	}
	if l.Memory > 0 {
		// limit_in_bytes first: memsw may never be below it.
		v := strconv.FormatInt(l.Memory, 10)
		if err := v1Set(name, "memory", g.ctl["memory"], "memory.limit_in_bytes", v); err != nil {
			return nil, err
		}
		if sw := filepath.Join(g.ctl["memory"], "memory.memsw.limit_in_bytes"); exists(sw) {
			if err := v1Set(name, "memory", g.ctl["memory"], "memory.memsw.limit_in_bytes", v); err != nil {
				return nil, err
			}
		}
	}
	if l.Pids > 0 {
		if err := v1Set(name, "pids", g.ctl["pids"], "pids.max", strconv.Itoa(l.Pids)); err != nil {
			return nil, err
		}
	}
	if l.CPUs > 0 {
		if err := v1Set(name, "cpu", g.ctl["cpu"], "cpu.cfs_period_us", strconv.Itoa(cpuPeriod)); err != nil {
			return nil, err
		}
		if err := v1Set(name, "cpu", g.ctl["cpu"], "cpu.cfs_quota_us", strconv.FormatInt(cpuQuota(l.CPUs), 10)); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// v1Set writes one limit; failure means the limit is not in force.
func v1Set(name, ctl, dir, file, v string) error {
	if err := writeFile(filepath.Join(dir, file), v); err != nil {
		return fmt.Errorf("cgroup: create %s: %w: %s limit: %w", name, ErrUnavailable, ctl, err)
	}
	return nil
}

func (g *v1Group) Version() int { return 1 }

func (g *v1Group) Controllers() []string { return slices.Clone(g.limited) }

// AddProc writes pid to cgroup.procs in every hierarchy, limits first.
// If it fails the process may be in some hierarchies only; the caller must
// then kill it rather than let it run.
func (g *v1Group) AddProc(pid int) error {
	for _, d := range g.dirs {
		if err := writeFile(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("cgroup: add pid %d: %w", pid, err)
		}
	}
	return nil
}

// Entry opens the tasks file of every hierarchy, limits first.
func (g *v1Group) Entry() (*Entry, error) {
	paths := make([]string, len(g.dirs))
	for i, d := range g.dirs {
		paths[i] = filepath.Join(d, "tasks")
	}
	self, err := openAll(paths)
	if err != nil {
		return nil, err
	}
	return &Entry{Self: self}, nil
}

// Home opens, for a v1 group, the tasks files of the calling process's
// own groups in each hierarchy of g, in the order of g's Entry().Self: a
// thread that entered g with Enter(Self) to fork a child into it goes back
// with Enter(Home). (Own groups are those of the process's main thread,
// which never enters a run's group.) It returns nil on v2, where a thread
// cannot enter a group alone.
func Home(g Group) ([]*os.File, error) {
	v1, ok := g.(*v1Group)
	if !ok {
		return nil, nil
	}
	return v1.home()
}

// home opens the tasks files of our own groups, hierarchy by hierarchy in
// the order of g.dirs (see Home).
func (g *v1Group) home() ([]*os.File, error) {
	f, err := os.Open(g.h.mountinfo)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	mounts, err := parseMountinfo(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	f, err = os.Open(g.h.selfCgroup)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	own, err := parseSelfCgroupV1(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(g.dirs))
	for i, d := range g.dirs {
		point := filepath.Dir(filepath.Dir(d)) // <mount>/moat/<name>
		var m *mount
		for j := range mounts {
			if mounts[j].Version == 1 && mounts[j].Point == point && len(mounts[j].Controllers) > 0 {
				m = &mounts[j]
			}
		}
		if m == nil {
			return nil, fmt.Errorf("cgroup: %s: no v1 hierarchy mounted there", point)
		}
		p, ok := own[m.Controllers[0]]
		if !ok {
			return nil, fmt.Errorf("cgroup: no %s group in %s", m.Controllers[0], g.h.selfCgroup)
		}
		rel, ok := strings.CutPrefix(p, strings.TrimSuffix(m.Root, "/"))
		if !ok || rel != "" && !strings.HasPrefix(rel, "/") {
			return nil, fmt.Errorf("cgroup: our %s group %s is outside the mount's root %s", m.Controllers[0], p, m.Root)
		}
		paths[i] = filepath.Join(point, rel, "tasks")
	}
	return openAll(paths)
}

func (g *v1Group) Stats() (Stats, error) {
	var st Stats
	mem := g.ctl["memory"]
	peak, _, err := readInt(filepath.Join(mem, "memory.max_usage_in_bytes"))
	if err != nil {
		return st, err
	}
	st.PeakMemory = peak
	oom, ok, err := readKeyed(filepath.Join(mem, "memory.oom_control"), "oom_kill")
	if err != nil {
		return st, err
	}
	if ok {
		st.OOMKills = oom
	} else {
		// Before Linux 4.13 there is no oom_kill count; a hit limit may
		// or may not have killed something.
		fail, _, err := readInt(filepath.Join(mem, "memory.failcnt"))
		if err != nil {
			return st, err
		}
		if fail > 0 {
			st.OOMKills = -1
		}
	}
	if d, ok := g.ctl["pids"]; ok {
		st.PidsMaxHits, _, err = readKeyed(filepath.Join(d, "pids.events"), "max")
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

func (g *v1Group) Kill() error {
	var fz freezer
	if d, ok := g.ctl["freezer"]; ok {
		state := filepath.Join(d, "freezer.state")
		fz.freeze = func() error {
			if err := writeFile(state, "FROZEN"); err != nil {
				return err
			}
			// FREEZING until every task has stopped.
			return g.h.pollUntil(100*time.Millisecond, func() (bool, error) {
				b, err := os.ReadFile(state)
				return strings.TrimSpace(string(b)) == "FROZEN", err
			})
		}
		fz.thaw = func() error { return writeFile(state, "THAWED") }
	}
	return g.h.killAll(g.dirs, "", fz)
}

func (g *v1Group) Destroy() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.destroyed {
		return nil
	}
	kerr := g.Kill()
	if err := g.removeDirs(); err != nil {
		return errors.Join(kerr, err)
	}
	g.destroyed = true
	return kerr
}

// removeDirs removes the group's directories, last created first.
func (g *v1Group) removeDirs() error {
	var errs []error
	for i := len(g.dirs) - 1; i >= 0; i-- {
		errs = append(errs, g.h.removeTree(g.dirs[i]))
	}
	return errors.Join(errs...)
}
