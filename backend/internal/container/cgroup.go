package container

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stats are the counters of a container's cgroup that decide its status.
type Stats struct {
	OOMKills int64 // processes the kernel killed at the memory limit
	PidsMax  int64 // forks refused at the pids limit
	Peak     int64 // peak memory, bytes
}

// Cgroup reads a container's cgroup from the host (v1 or v2). The zero
// value reads nothing.
type Cgroup struct {
	Memory, Pids string // directories; equal on v2
	V2           bool
}

// CgroupOf finds the cgroup of a host pid from /proc/PID/cgroup.
func CgroupOf(pid int) (Cgroup, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return Cgroup{}, err
	}
	var cg Cgroup
	var unified string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			switch ctrl {
			case "memory":
				cg.Memory = filepath.Join("/sys/fs/cgroup/memory", parts[2])
			case "pids":
				cg.Pids = filepath.Join("/sys/fs/cgroup/pids", parts[2])
			case "":
				unified = parts[2]
			}
		}
	}
	if cg.Memory == "" && cg.Pids == "" && unified != "" {
		d := filepath.Join("/sys/fs/cgroup", unified)
		cg = Cgroup{Memory: d, Pids: d, V2: true}
	}
	if cg.Memory == "" && cg.Pids == "" {
		return cg, fmt.Errorf("no memory or pids cgroup for pid %d", pid)
	}
	return cg, nil
}

// Found reports whether the cgroup is known.
func (c Cgroup) Found() bool { return c.Memory != "" || c.Pids != "" }

// Stats reads the counters; a file that cannot be read counts as zero.
func (c Cgroup) Stats() Stats {
	var s Stats
	if c.Pids != "" {
		s.PidsMax = keyed(filepath.Join(c.Pids, "pids.events"), "max")
	}
	if c.Memory == "" {
		return s
	}
	if c.V2 {
		s.OOMKills = keyed(filepath.Join(c.Memory, "memory.events"), "oom_kill")
		s.Peak = single(filepath.Join(c.Memory, "memory.peak"))
	} else {
		s.OOMKills = keyed(filepath.Join(c.Memory, "memory.oom_control"), "oom_kill")
		s.Peak = single(filepath.Join(c.Memory, "memory.max_usage_in_bytes"))
	}
	return s
}

func keyed(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

func single(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// killProgram kills every process of the container's cgroup but its init
// (pid 1 of its own pid namespace), until none is left, killBound at
// most: the init, which the kernel's OOM killer spared (ctrinit's
// programOOM, Header.Reserve), then reaps them and sends its report. It
// fails when the init is not among them (nothing is then killed) or the
// processes outlive the bound.
func (c Cgroup) killProgram() error {
	dir := c.Memory
	if dir == "" {
		return errors.New("no memory cgroup")
	}
	deadline := time.Now().Add(killBound)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return err
		}
		var others []int
		sawInit := false
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			if nsInit(pid) {
				sawInit = true
			} else {
				others = append(others, pid)
			}
		}
		switch {
		case !sawInit:
			return errors.New("no init in the container's cgroup")
		case len(others) == 0:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%d processes left", len(others))
		}
		for _, p := range others {
			if err := syscall.Kill(p, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
				return err
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// killBound bounds killProgram. Killed processes die, but a process that
// filled its memory takes long to free it on a busy machine, and past the
// bound the whole container is killed, the init and its report with it.
const killBound = 5 * time.Second

// nsInit says whether the host's pid is pid 1 of a pid namespace of its
// own (the last NSpid of /proc/PID/status).
func nsInit(pid int) bool {
	f := nsFields(pid, "NSpid")
	return len(f) > 1 && f[len(f)-1] == "1"
}

// nsFields are the values of a /proc/PID/status line key (NSpid, NSsid:
// outermost pid namespace first), nil if none.
func nsFields(pid int, key string) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			return strings.Fields(v)
		}
	}
	return nil
}
