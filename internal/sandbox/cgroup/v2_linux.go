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
	"syscall"
	"time"
)

// v2Group is a group on the unified hierarchy: the single directory
// <top>/moat/<name>.
type v2Group struct {
	h       *host
	dir     string
	limited []string

	mu        sync.Mutex
	destroyed bool
}

var _ Group = (*v2Group)(nil)

func (h *host) newV2(lay layout, name string, l Limits) (_ Group, err error) {
	g := &v2Group{h: h, dir: filepath.Join(lay.base, name), limited: limited(l)}
	for _, c := range g.limited {
		if !slices.Contains(lay.controllers, c) {
			return nil, fmt.Errorf("cgroup: create %s: %w: the %s controller is not available in %s (cgroup.controllers); for a non-root user it must be delegated, e.g. `systemd-run --user --scope -p Delegate=yes`",
				name, ErrUnavailable, c, lay.top)
		}
	}
	// memory and pids are enabled whenever available so that Stats can
	// report OOM kills and failed forks; cpu only when limited, since
	// enabling it can fail (real-time threads) and costs scheduling work.
	var enable []string
	for _, c := range lay.controllers {
		if c != "cpu" || l.CPUs > 0 {
			enable = append(enable, c)
		}
	}
	if err := enableControllers(lay.top, enable); err != nil {
		if errors.Is(err, syscall.EBUSY) {
			// Typically root in a container with its own cgroup
			// namespace: the container's processes sit in the top
			// group, which the no-internal-process rule then keeps
			// from enabling controllers. Moving them is the
			// container's business, not a sandbox run's.
			return nil, fmt.Errorf("cgroup: create %s: %w: %w; processes in %s itself (a container's cgroup?) must first move to a child group, as container inits do: mkdir %s/init and write each pid of its cgroup.procs to init/cgroup.procs",
				name, ErrUnavailable, err, lay.top, lay.top)
		}
		return nil, fmt.Errorf("cgroup: create %s: %w: %w", name, ErrUnavailable, err)
	}
	if err := h.mkdirBase(lay.base); err != nil {
		return nil, err
	}
	if err := enableControllers(lay.base, enable); err != nil {
		return nil, fmt.Errorf("cgroup: create %s: %w: %w", name, ErrUnavailable, err)
	}
	if err := h.mkdir(g.dir); err != nil {
		return nil, fmt.Errorf("cgroup: create %s: %w", g.dir, err)
	}
	defer func() {
		if err != nil {
			g.h.removeTree(g.dir)
		}
	}()
	set := func(ctl, file, v string) error {
		if err := writeFile(filepath.Join(g.dir, file), v); err != nil {
			return fmt.Errorf("cgroup: create %s: %w: %s limit: %w", name, ErrUnavailable, ctl, err)
		}
		return nil
	}
	if l.Memory > 0 {
		if err := set("memory", "memory.max", strconv.FormatInt(l.Memory, 10)); err != nil {
			return nil, err
		}
		// Absent when the kernel does not account swap.
		if exists(filepath.Join(g.dir, "memory.swap.max")) {
			if err := set("memory", "memory.swap.max", "0"); err != nil {
				return nil, err
			}
		}
	}
	if l.Pids > 0 {
		if err := set("pids", "pids.max", strconv.Itoa(l.Pids)); err != nil {
			return nil, err
		}
	}
	if l.CPUs > 0 {
		if err := set("cpu", "cpu.max", fmt.Sprintf("%d %d", cpuQuota(l.CPUs), cpuPeriod)); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// enableControllers adds the controllers missing from dir's
// cgroup.subtree_control, in one write ("+memory +pids +cpu"). It fails with
// EBUSY when dir holds processes itself (the no-internal-process rule),
// except at the root.
func enableControllers(dir string, want []string) error {
	path := filepath.Join(dir, "cgroup.subtree_control")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("enable controllers in %s: %w", dir, err)
	}
	have := strings.Fields(string(b))
	var add []string
	for _, c := range want {
		if !slices.Contains(have, c) && !slices.Contains(have, "+"+c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := writeFile(path, strings.Join(add, " ")); err != nil {
		return fmt.Errorf("enable controllers in %s (a cgroup that holds processes cannot enable controllers for children): %w", dir, err)
	}
	return nil
}

func (g *v2Group) Version() int { return 2 }

func (g *v2Group) Controllers() []string { return slices.Clone(g.limited) }

func (g *v2Group) AddProc(pid int) error {
	if err := writeFile(filepath.Join(g.dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("cgroup: add pid %d: %w", pid, err)
	}
	return nil
}

// Entry opens the group's directory, where the kernel can clone into it
// (Linux 5.7), and its cgroup.procs for the fallback.
func (g *v2Group) Entry() (*Entry, error) {
	self, err := openAll([]string{filepath.Join(g.dir, "cgroup.procs")})
	if err != nil {
		return nil, err
	}
	e := &Entry{Self: self}
	if g.h.cloneInto {
		d, err := os.OpenFile(g.dir, os.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("cgroup: open %s: %w", g.dir, err)
		}
		e.Dir = d
	}
	return e, nil
}

// Stats reads memory.peak (0 if absent, before Linux 5.19), oom_kill from
// memory.events and max from pids.events; the .events files count the
// whole subtree.
func (g *v2Group) Stats() (Stats, error) {
	var st Stats
	var err error
	if st.PeakMemory, _, err = readInt(filepath.Join(g.dir, "memory.peak")); err != nil {
		return st, err
	}
	if st.OOMKills, _, err = readKeyed(filepath.Join(g.dir, "memory.events"), "oom_kill"); err != nil {
		return st, err
	}
	if st.PidsMaxHits, _, err = readKeyed(filepath.Join(g.dir, "pids.events"), "max"); err != nil {
		return st, err
	}
	return st, nil
}

func (g *v2Group) Kill() error {
	if k := filepath.Join(g.dir, "cgroup.kill"); exists(k) {
		return g.h.killAll([]string{g.dir}, k, freezer{})
	}
	var fz freezer
	if f := filepath.Join(g.dir, "cgroup.freeze"); exists(f) {
		fz.freeze = func() error {
			if err := writeFile(f, "1"); err != nil {
				return err
			}
			return g.h.pollUntil(100*time.Millisecond, func() (bool, error) {
				n, ok, err := readKeyed(filepath.Join(g.dir, "cgroup.events"), "frozen")
				return ok && n == 1, err
			})
		}
		fz.thaw = func() error { return writeFile(f, "0") }
	}
	return g.h.killAll([]string{g.dir}, "", fz)
}

func (g *v2Group) Destroy() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.destroyed {
		return nil
	}
	kerr := g.Kill()
	if err := g.h.removeTree(g.dir); err != nil {
		return errors.Join(kerr, err)
	}
	g.destroyed = true
	return kerr
}
