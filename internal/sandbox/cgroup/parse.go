package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// mount is one cgroup file system from /proc/self/mountinfo.
type mount struct {
	Point       string   // where it is mounted, unescaped
	Root        string   // the cgroup path that Point shows (field 4)
	Version     int      // 1 for fstype "cgroup", 2 for "cgroup2"
	Controllers []string // v1 only: controllers named in the super options
}

// v1Controllers are the v1 super options that name a controller; others
// ("rw", "name=systemd", "xattr", ...) are ignored.
var v1Controllers = map[string]bool{
	"memory": true, "pids": true, "cpu": true, "cpuacct": true, "freezer": true,
	"cpuset": true, "devices": true, "blkio": true, "net_cls": true, "net_prio": true,
	"perf_event": true, "hugetlb": true, "rdma": true, "misc": true,
}

// parseMountinfo returns the cgroup and cgroup2 mounts listed in a
// /proc/<pid>/mountinfo file, in file order. Lines that are not cgroup
// mounts are skipped; a cgroup line that is malformed is an error.
//
// A line reads: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
func parseMountinfo(r io.Reader) ([]mount, error) {
	var mounts []mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		left, right, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		post := strings.Fields(right)
		if len(post) == 0 || (post[0] != "cgroup" && post[0] != "cgroup2") {
			continue
		}
		pre := strings.Fields(left)
		if len(pre) < 5 {
			return nil, fmt.Errorf("cgroup: parse mountinfo line %q: too few fields", line)
		}
		m := mount{Root: unescapeMount(pre[3]), Point: unescapeMount(pre[4]), Version: 2}
		if post[0] == "cgroup" {
			m.Version = 1
			if len(post) >= 3 {
				for _, opt := range strings.Split(post[2], ",") {
					if v1Controllers[opt] {
						m.Controllers = append(m.Controllers, opt)
					}
				}
			}
		}
		mounts = append(mounts, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cgroup: read mountinfo: %w", err)
	}
	return mounts, nil
}

// unescapeMount undoes the kernel's octal escaping of space, tab, newline
// and backslash (\040, \011, \012, \134) in mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseSelfCgroup returns the v2 path ("0::/path" line) of a
// /proc/<pid>/cgroup file. ok is false when there is no such line.
func parseSelfCgroup(r io.Reader) (path string, ok bool, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if p, found := strings.CutPrefix(sc.Text(), "0::"); found {
			return p, true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", false, fmt.Errorf("cgroup: read /proc/self/cgroup: %w", err)
	}
	return "", false, nil
}

// parseSelfCgroupV1 maps each controller of the v1 lines ("4:memory:/a",
// "1:cpu,cpuacct:/") of a /proc/<pid>/cgroup file to its group's path.
// Named hierarchies (name=systemd) and the v2 line are skipped.
func parseSelfCgroupV1(r io.Reader) (map[string]string, error) {
	groups := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if v1Controllers[c] {
				groups[c] = parts[2]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cgroup: read /proc/self/cgroup: %w", err)
	}
	return groups, nil
}

// errNoKey reports that a flat-keyed file has no line for the key.
var errNoKey = errors.New("key not found")

// parseKeyed returns the value of key in a flat-keyed cgroup file such as
// memory.events ("oom_kill 3"), pids.events ("max 2") or memory.oom_control.
// It returns an error wrapping errNoKey when the key is absent.
func parseKeyed(b []byte, key string) (int64, error) {
	// Without a Scanner: Watch reads these at every notice.
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		k, v, ok := bytes.Cut(bytes.TrimSpace(line), []byte{' '})
		if !ok || string(k) != key {
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cgroup: parse %q: %w", line, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("cgroup: %q: %w", key, errNoKey)
}

// parsePids parses a cgroup.procs file: one decimal pid per line.
func parsePids(r io.Reader) ([]int, error) {
	var pids []int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		pid, err := strconv.Atoi(s)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("cgroup: parse pid %q: invalid", s)
		}
		pids = append(pids, pid)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return pids, nil
}

// parseInt parses a single-value cgroup file such as memory.peak.
func parseInt(b []byte) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgroup: parse %q: %w", b, err)
	}
	return n, nil
}
