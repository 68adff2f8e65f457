package cgroup

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"time"
)

// killTimeout bounds how long Kill waits for a group to empty.
const killTimeout = time.Second

// freezer stops and resumes every process of a group. Either func may be
// nil when no freezer is available.
type freezer struct {
	freeze func() error // returns once frozen, or after a bounded wait
	thaw   func() error
}

// killedNonEmpty counts the kills that found a process in their group.
var killedNonEmpty atomic.Int64

// KilledNonEmpty is how many times, in this process, a Kill or Destroy
// found processes left in a group and had to kill them (on v1 by
// freezing the group, which flips a kernel static key: text patching
// with every CPU stopped, twice). A caller that waits for its processes
// to end first keeps it still.
func KilledNonEmpty() int64 { return killedNonEmpty.Load() }

// killAll empties the groups rooted at dirs. Each round lists the processes,
// and if any remain: kills them through cgroup.kill when killFile is set,
// otherwise freezes (so nothing forks or exits between listing and killing,
// which also rules out pid reuse), sends SIGKILL to each listed pid, and
// thaws so the signals are delivered. Without a freezer a pid listed could
// exit and be reused before the signal; the window is microseconds and the
// loop runs until the group is empty.
//
// It fails if our own pid is in a group (we would kill ourselves) or if
// processes remain after killTimeout.
func (h *host) killAll(dirs []string, killFile string, fz freezer) error {
	deadline := h.now().Add(killTimeout)
	counted := false
	list := func() ([]int, error) {
		var all []int
		for _, d := range dirs {
			ps, err := treePids(d)
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				if !slices.Contains(all, p) {
					all = append(all, p)
				}
			}
		}
		if slices.Contains(all, h.self) {
			return nil, fmt.Errorf("cgroup: kill: refusing, our own pid %d is in the group", h.self)
		}
		return all, nil
	}
	for {
		pids, err := list()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if !counted {
			counted = true
			killedNonEmpty.Add(1)
		}
		if h.now().After(deadline) {
			return fmt.Errorf("cgroup: kill %s: %d processes still present after %v: %v", dirs[0], len(pids), killTimeout, pids)
		}
		if killFile != "" {
			if err := writeFile(killFile, "1"); err != nil {
				return fmt.Errorf("cgroup: kill: %w", err)
			}
		} else if err := h.killListed(list, fz); err != nil {
			return err
		}
		h.sleep(5 * time.Millisecond)
	}
}

func (h *host) killListed(list func() ([]int, error), fz freezer) (err error) {
	if fz.freeze != nil {
		// Thaw even if freezing failed half way: a group left frozen
		// cannot be emptied.
		defer func() {
			if terr := fz.thaw(); terr != nil && err == nil {
				err = fmt.Errorf("cgroup: kill: thaw: %w", terr)
			}
		}()
		if err := fz.freeze(); err != nil {
			return fmt.Errorf("cgroup: kill: freeze: %w", err)
		}
	}
	pids, err := list()
	if err != nil {
		return err
	}
	for _, p := range pids {
		if err := h.kill(p); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("cgroup: kill pid %d: %w", p, err)
		}
	}
	return nil
}

// pollUntil calls done every few milliseconds until it reports true, fails,
// or limit passes; running out of time is not an error (the caller kills
// anyway and loops).
func (h *host) pollUntil(limit time.Duration, done func() (bool, error)) error {
	deadline := h.now().Add(limit)
	for {
		ok, err := done()
		if err != nil || ok || h.now().After(deadline) {
			return err
		}
		h.sleep(time.Millisecond)
	}
}
