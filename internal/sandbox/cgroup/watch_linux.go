package cgroup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// watch waits for v2's notices: memory.events and pids.events are
// marked modified (inotify) on every event of theirs.
func (g *v2Group) watch(done <-chan struct{}, onBreach func(Breach)) {
	mem, pids := filepath.Join(g.dir, "memory.events"), filepath.Join(g.dir, "pids.events")
	cs, err := openCounters(mem, "oom_kill", pids, "max")
	if err != nil { // a controller not enabled: read what there is
		poll(g.Stats, done, onBreach)
		return
	}
	defer cs.close()
	read := func() (Stats, error) {
		oom, err := cs[0].read()
		if err != nil {
			return Stats{}, err
		}
		hits, err := cs[1].read()
		return Stats{OOMKills: oom, PidsMaxHits: hits}, err
	}
	notices, err := inotify(mem, pids)
	if err != nil {
		poll(read, done, onBreach)
		return
	}
	watchLoop(read, notices, done, onBreach)
}

// watch reads v1's memory.oom_control and pids.events every pollEvery,
// from descriptors kept open. v1 has no notice of a kill: the eventfd of
// memory.oom_control (cgroup.event_control) is signalled when the group
// runs out of memory, before the OOM killer has killed (and counted) in
// it, and pids.events gives none.
func (g *v1Group) watch(done <-chan struct{}, onBreach func(Breach)) {
	paths := []string{filepath.Join(g.ctl["memory"], "memory.oom_control"), "oom_kill"}
	if d, ok := g.ctl["pids"]; ok {
		paths = append(paths, filepath.Join(d, "pids.events"), "max")
	}
	cs, err := openCounters(paths...)
	if err != nil {
		poll(g.Stats, done, onBreach)
		return
	}
	defer cs.close()
	if _, err := cs[0].read(); err != nil { // before Linux 4.13: no oom_kill (Stats reads memory.failcnt)
		poll(g.Stats, done, onBreach)
		return
	}
	poll(func() (Stats, error) {
		var st Stats
		var err error
		if st.OOMKills, err = cs[0].read(); err != nil || len(cs) == 1 {
			return st, err
		}
		st.PidsMaxHits, err = cs[1].read()
		return st, err
	}, done, onBreach)
}

// watchLoop checks the counters (read) at once and at every notice,
// until a breach or done. notices (closed here) is read for wake-ups; if
// reading it fails, the counters are read every pollEvery from then on.
func watchLoop(read func() (Stats, error), notices *os.File, done <-chan struct{}, onBreach func(Breach)) {
	defer notices.Close() // ends the reader below
	kick := make(chan struct{}, 1)
	failed := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := notices.Read(buf); err != nil {
				if !errors.Is(err, os.ErrClosed) {
					close(failed)
				}
				return
			}
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}()
	if wait(read, kick, failed, done, onBreach) {
		poll(read, done, onBreach)
	}
}

// counter is a file of keyed counters kept open and read again from its
// start at each read (the kernel makes its text anew).
type counter struct {
	f   *os.File
	key string
	buf []byte
}

type counters []*counter

// openCounters opens each path of pairs (path, key).
func openCounters(pairs ...string) (counters, error) {
	var cs counters
	for i := 0; i+1 < len(pairs); i += 2 {
		f, err := os.Open(pairs[i])
		if err != nil {
			cs.close()
			return nil, fmt.Errorf("cgroup: watch: %w", err)
		}
		cs = append(cs, &counter{f: f, key: pairs[i+1], buf: make([]byte, 512)})
	}
	return cs, nil
}

func (cs counters) close() {
	for _, c := range cs {
		c.f.Close()
	}
}

// read returns the counter's value; a missing key is an error.
func (c *counter) read() (int64, error) {
	n, err := c.f.ReadAt(c.buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("cgroup: watch %s: %w", c.f.Name(), err)
	}
	v, err := parseKeyed(c.buf[:n], c.key)
	if err != nil {
		return 0, fmt.Errorf("cgroup: watch %s: %w", c.f.Name(), err)
	}
	return v, nil
}

// inotify returns a descriptor that is readable once any of paths was
// modified.
func inotify(paths ...string) (*os.File, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("cgroup: inotify: %w", err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	for _, p := range paths {
		if _, err := syscall.InotifyAddWatch(fd, p, syscall.IN_MODIFY); err != nil {
			f.Close()
			return nil, fmt.Errorf("cgroup: inotify %s: %w", p, err)
		}
	}
	return f, nil
}
