package container

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
