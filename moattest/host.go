package moattest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostProcsWith returns the host pids whose command line contains marker,
// other than this process. Processes that exit while we look are skipped.
func hostProcsWith(marker string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(marker)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procHasMarkers reports whether this host can show us other processes'
// command lines at all; without that, a "no process left" check proves
// nothing.
func requireProcScan(t *testing.T) {
	t.Helper()
	if _, err := os.ReadFile("/proc/self/cmdline"); err != nil {
		t.Skipf("cannot scan the host's processes: %v", err)
	}
}

// wantNoProcs fails the test if a host process carries marker.
func wantNoProcs(t *testing.T, marker, when string) {
	t.Helper()
	if pids := hostProcsWith(marker); len(pids) > 0 {
		var desc []string
		for _, p := range pids {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
			desc = append(desc, strconv.Itoa(p)+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
		t.Errorf("%s: host processes of the run are still alive:\n%s", when, strings.Join(desc, "\n"))
	}
}

// wantNoLeftovers fails the test if a Sentry backend reports what an
// ended run left on the host.
func wantNoLeftovers(t *testing.T, s *suite, when string) {
	t.Helper()
	if s.opts.Sentry == nil || s.opts.Sentry.Leftovers == nil {
		return
	}
	// Leftovers counts only runs of this process that have ended, so
	// runs of other processes (another test binary, a CLI) going on at
	// the same time are not mistaken for ours.
	if left := s.opts.Sentry.Leftovers(); len(left) > 0 {
		t.Errorf("%s: the backend left on the host: %s", when, strings.Join(left, "; "))
	}
}

// waitProcs waits until a host process carries marker: the proof that the
// scan of wantNoProcs can see the sandbox's processes at all.
func waitProcs(t *testing.T, marker string, d time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if len(hostProcsWith(marker)) > 0 {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// moatCgroups lists the host's cgroups of moat runs, for both versions:
// /sys/fs/cgroup/<controller>/moat/moat-* (v1) and /sys/fs/cgroup/moat/moat-* (v2).
func moatCgroups() map[string]bool {
	set := map[string]bool{}
	for _, pat := range []string{"/sys/fs/cgroup/*/moat/moat-*", "/sys/fs/cgroup/moat/moat-*"} {
		m, _ := filepath.Glob(pat)
		for _, p := range m {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				set[p] = true
			}
		}
	}
	return set
}

// checkNoNewCgroups fails the test if a moat cgroup that was not there in
// before stays. Runs of other tests (in this or another test binary) may
// hold groups for a while, so a new group gets time to go before it counts
// as left behind.
func checkNoNewCgroups(t *testing.T, before map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var left []string
		for p := range moatCgroups() {
			if !before[p] {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			sort.Strings(left)
			t.Fatalf("cgroups left behind:\n%s", strings.Join(left, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hostResponsive fails the test if the host cannot start a process within
// a generous bound (after a bomb).
func hostResponsive(t *testing.T) {
	t.Helper()
	start := time.Now()
	if err := exec.Command("/bin/true").Run(); err != nil {
		t.Errorf("host cannot start /bin/true after the run: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("host took %s to start /bin/true after the run", d)
	}
}

// ChildrenOf returns the pids whose parent is pid, from /proc (processes
// that exit while it looks are left out).
func ChildrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// Mounts are the mount points of this process's mount namespace.
func Mounts() map[string]bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	out := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 {
			out[f[4]] = true
		}
	}
	return out
}

// MoatCgroups are the moat-* cgroup directories of this host, under cgroup
// v1's controllers and v2's root, with moat's parent group or without.
func MoatCgroups() map[string]bool {
	out := map[string]bool{}
	for _, pat := range []string{"/sys/fs/cgroup/*/moat-*", "/sys/fs/cgroup/moat-*", "/sys/fs/cgroup/*/*/moat-*", "/sys/fs/cgroup/*/moat/moat-*"} {
		m, _ := filepath.Glob(pat)
		for _, p := range m {
			out[p] = true
		}
	}
	return out
}

// HostSiteNames lists, one a line, what the site directories of the
// host's python3 (on PATH) hold: a native sandbox shows them through its
// binds of that runtime, as they are, so a test of tells (tells.py's
// host.txt) does not count them as moat's.
func HostSiteNames(t testing.TB) []byte {
	t.Helper()
	out, err := exec.Command("python3", "-I", "-c", "import os, site\nfor d in site.getsitepackages():\n    print(*(os.listdir(d) if os.path.isdir(d) else []), sep='\\n')").Output()
	if err != nil {
		t.Fatalf("list the host's site directories: %v", err)
	}
	return out
}
