package gvisor

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// GC removes what crashed runs left: sandboxes in runsc's state, host
// processes of them, scratch mounts and bundles. A run in progress holds
// the lock of its bundle and is left alone. It returns what it removed.
func GC(ctx context.Context) ([]string, error) {
	base := "/run/moat/gvisor"
	var removed []string
	ents, err := os.ReadDir(base)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	runsc, _ := (&Backend{}).findRunsc()
	stale := map[string]bool{}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), idPrefix) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		if held(dir) {
			continue
		}
		stale[e.Name()] = true
	}
	// Sandboxes runsc still knows, whose bundle is gone or stale.
	for _, id := range listContainers(ctx, runsc) {
		if !strings.HasPrefix(id, idPrefix) {
			continue
		}
		if _, err := os.Stat(filepath.Join(base, id)); err == nil && !stale[id] {
			continue
		}
		stale[id] = true
	}
	// Groups runsc made for runs whose bundle is gone.
	groups, _ := filepath.Glob("/sys/fs/cgroup/*/moat/" + idPrefix + "*")
	for _, g := range groups {
		id := filepath.Base(g)
		if _, err := os.Stat(filepath.Join(base, id)); os.IsNotExist(err) {
			stale[id] = true
		}
	}
	for id := range stale {
		if runsc != "" {
			_ = exec.CommandContext(ctx, runsc, "--root", filepath.Join(base, "state"), "delete", "-force", id).Run()
		}
		for _, pid := range procsOf(id) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		removeRunscCgroups(id)
		dir := filepath.Join(base, id)
		for _, m := range mountsUnder(dir) {
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
		if err := os.RemoveAll(dir); err == nil {
			removed = append(removed, "gvisor sandbox "+id)
		}
	}
	return append(removed, gcSkeletons()...), nil
}

// mountsUnder returns the mount points below dir (site, scratch, shm and
// whatever a later run's layout adds), the deepest first, so that a
// crashed run's bundle can be removed whole.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var ms []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		// Field 5 is the mount point, octal-escaped (\040 for a space):
		// moat's ids have none of those characters.
		if strings.HasPrefix(f[4], dir+"/") {
			ms = append(ms, f[4])
		}
	}
	slices.SortFunc(ms, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return ms
}

// held reports whether a live run holds the bundle's lock.
func held(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return true
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// listContainers returns the ids in moat's runsc state.
func listContainers(ctx context.Context, runsc string) []string {
	if runsc == "" {
		return nil
	}
	out, err := exec.CommandContext(ctx, runsc, "--root", runscRoot(), "list", "-format=json").Output()
	if err != nil {
		return nil
	}
	var cs []struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(out, &cs) != nil {
		return nil
	}
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// idRE is compiled on first use, not when moat starts.
var idRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(idPrefix + `[0-9a-f]{16}`) })

// procsOf returns host processes whose command line names id, or any
// run of this backend when id is "".
func procsOf(id string) []int {
	ents, _ := os.ReadDir("/proc")
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
		if id != "" && bytes.Contains(b, []byte(id)) || id == "" && idRE().Match(b) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killNamed kills every host process whose command line names id and
// waits, up to limit, until none is left. It is the last guard of a run's
// cleanup, not its mechanism: by the time it runs, `runsc run` has been
// reaped and everything it started was in the run's cgroup, which is
// empty; so one scan of /proc normally finds nothing and costs no wait.
// (Processes of other moat processes' runs carry other ids: they are never
// touched here. Seeing them is what made an ended run look as if it had
// left a fresh `runsc run` behind.)
func killNamed(id string, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		pids := procsOf(id)
		if len(pids) == 0 || time.Now().After(deadline) {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Leftovers lists what runs of this process that have ended left on the
// host: runsc sandboxes, bundles and host processes. For tests: it must
// be empty whenever no run of this process is in progress, and never
// name a live run. Runs of other processes (another moat, a test binary
// beside this one) are not this process's to account for, and are left
// out: their ids were never this process's.
func Leftovers() []string {
	ours.Lock()
	ended := map[string]bool{}
	for id := range ours.ended {
		ended[id] = true
	}
	ours.Unlock()
	var left []string
	runsc, _ := (&Backend{}).findRunsc()
	for _, id := range listContainers(context.Background(), runsc) {
		if ended[id] {
			left = append(left, "runsc container "+id)
		}
	}
	ents, _ := os.ReadDir("/run/moat/gvisor")
	for _, e := range ents {
		if ended[e.Name()] {
			left = append(left, "bundle "+e.Name())
		}
	}
	for _, pid := range procsOf("") {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if id := idRE().Find(b); id != nil && ended[string(id)] {
			st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			left = append(left, "process "+strconv.Itoa(pid)+" of "+string(id)+" ("+strings.ReplaceAll(string(b[:min(len(b), 120)]), "\x00", " ")+"; stat "+string(st[:min(len(st), 80)])+")")
		}
	}
	return left
}
