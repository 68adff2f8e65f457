package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeV2 imitates a cgroup2 file system in a temporary directory: mkdir
// populates a group with the interface files of the controllers its parent
// enables in cgroup.subtree_control, as the kernel does, and rmdir refuses
// groups with processes or children (EBUSY).
type fakeV2 struct {
	t      *testing.T
	mnt    string              // the fake mount point
	h      *host               // wired to the fake
	omit   map[string]bool     // interface files mkdir leaves out
	killed []int               // pids passed to h.kill
	wr     func(p string) bool // writable; nil = everything
}

func newFakeV2(t *testing.T, uid int, controllers string) *fakeV2 {
	t.Helper()
	dir := t.TempDir()
	f := &fakeV2{t: t, mnt: filepath.Join(dir, "cgroup"), omit: map[string]bool{}}
	must(t, os.Mkdir(f.mnt, 0o755))
	for name, content := range map[string]string{
		"cgroup.controllers":     controllers + "\n",
		"cgroup.subtree_control": "\n",
		"cgroup.procs":           "1\n",
	} {
		must(t, os.WriteFile(filepath.Join(f.mnt, name), []byte(content), 0o644))
	}
	mi := filepath.Join(dir, "mountinfo")
	must(t, os.WriteFile(mi, []byte(
		"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"+
			"31 22 0:27 / "+f.mnt+" rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"), 0o644))
	self := filepath.Join(dir, "self-cgroup")
	must(t, os.WriteFile(self, []byte("0::/\n"), 0o644))
	f.h = &host{
		mountinfo:  mi,
		selfCgroup: self,
		uid:        uid,
		mkdir:      f.mkdir,
		rmdir:      f.rmdir,
		writable: func(p string) bool {
			return f.wr == nil || f.wr(p)
		},
		kill: func(pid int) error {
			f.killed = append(f.killed, pid)
			return f.dropPid(pid)
		},
		self:  os.Getpid(),
		sleep: f.tick,
		now:   time.Now,
	}
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// controllerFiles are the files (and initial contents) the kernel adds to a
// group for each enabled controller.
var controllerFiles = map[string]map[string]string{
	"memory": {
		"memory.max": "max\n", "memory.swap.max": "max\n", "memory.peak": "0\n",
		"memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
	},
	"pids": {"pids.max": "max\n", "pids.events": "max 0\n"},
	"cpu":  {"cpu.max": "max 100000\n"},
}

func (f *fakeV2) mkdir(p string) error {
	if err := os.Mkdir(p, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"cgroup.procs": "", "cgroup.subtree_control": "", "cgroup.kill": "",
		"cgroup.freeze": "0\n", "cgroup.events": "populated 0\nfrozen 0\n",
	}
	sub, err := os.ReadFile(filepath.Join(filepath.Dir(p), "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	var enabled []string
	for _, c := range strings.Fields(string(sub)) {
		c = strings.TrimPrefix(c, "+")
		enabled = append(enabled, c)
		for name, content := range controllerFiles[c] {
			files[name] = content
		}
	}
	files["cgroup.controllers"] = strings.Join(enabled, " ") + "\n"
	for name, content := range files {
		if f.omit[name] {
			continue
		}
		if err := os.WriteFile(filepath.Join(p, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeV2) rmdir(p string) error {
	entries, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			return &fs.PathError{Op: "rmdir", Path: p, Err: syscall.EBUSY}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs")); len(strings.TrimSpace(string(b))) > 0 {
		return &fs.PathError{Op: "rmdir", Path: p, Err: syscall.EBUSY}
	}
	return os.RemoveAll(p)
}

// tick stands in for time passing: groups whose cgroup.kill was written
// lose their processes, as the kernel would kill them.
func (f *fakeV2) tick(time.Duration) {
	filepath.WalkDir(f.mnt, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "cgroup.kill" {
			if b, _ := os.ReadFile(p); strings.TrimSpace(string(b)) == "1" {
				os.WriteFile(filepath.Join(filepath.Dir(p), "cgroup.procs"), nil, 0o644)
			}
		}
		return nil
	})
}

// dropPid removes a killed pid from every fake cgroup.procs.
func (f *fakeV2) dropPid(pid int) error {
	return filepath.WalkDir(f.mnt, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "cgroup.procs" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var keep []string
		for _, l := range strings.Fields(string(b)) {
			if l != strconv.Itoa(pid) {
				keep = append(keep, l)
			}
		}
		return os.WriteFile(p, []byte(strings.Join(keep, "\n")), 0o644)
	})
}

func (f *fakeV2) read(rel string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.mnt, rel))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func (f *fakeV2) write(rel, s string) {
	f.t.Helper()
	must(f.t, os.WriteFile(filepath.Join(f.mnt, rel), []byte(s), 0o644))
}

const allControllers = "cpuset cpu io memory hugetlb pids rdma misc"

func TestV2RootWritesLimits(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	g, err := f.h.new("moat-run1", Limits{Memory: 512 << 20, Pids: 64, CPUs: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{
		"cgroup.subtree_control":                "+memory +pids +cpu",
		"moat/cgroup.subtree_control":           "+memory +pids +cpu",
		"moat/moat-run1/memory.max":             "536870912",
		"moat/moat-run1/memory.swap.max":        "0",
		"moat/moat-run1/pids.max":               "64",
		"moat/moat-run1/cpu.max":                "150000 100000",
		"moat/moat-run1/cgroup.controllers":     "memory pids cpu\n",
		"moat/moat-run1/cgroup.subtree_control": "",
	} {
		if got := f.read(rel); got != want {
			t.Errorf("%s = %q, want %q", rel, got, want)
		}
	}
	if g.Version() != 2 {
		t.Errorf("Version() = %d, want 2", g.Version())
	}
	if got := g.Controllers(); !slices.Equal(got, []string{"memory", "pids", "cpu"}) {
		t.Errorf("Controllers() = %q", got)
	}
	must(t, g.AddProc(4242))
	if got := f.read("moat/moat-run1/cgroup.procs"); got != "4242" {
		t.Errorf("cgroup.procs = %q, want 4242", got)
	}

	f.write("moat/moat-run1/memory.peak", "123456789\n")
	f.write("moat/moat-run1/memory.events", "low 0\nhigh 0\nmax 17\noom 3\noom_kill 3\noom_group_kill 0\n")
	f.write("moat/moat-run1/pids.events", "max 2\n")
	st, err := g.Stats()
	must(t, err)
	if want := (Stats{PeakMemory: 123456789, OOMKills: 3, PidsMaxHits: 2}); st != want {
		t.Errorf("Stats() = %+v, want %+v", st, want)
	}

	// Destroy kills through cgroup.kill, removes the group, keeps moat/.
	must(t, g.Destroy())
	if len(f.killed) != 0 {
		t.Errorf("signalled %v; want cgroup.kill only", f.killed)
	}
	if _, err := os.Stat(filepath.Join(f.mnt, "moat/moat-run1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("group directory still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.mnt, "moat")); err != nil {
		t.Errorf("shared base removed: %v", err)
	}
	must(t, g.Destroy()) // idempotent
}

func TestV2NoCPULimitLeavesCPUOff(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	g, err := f.h.new("moat-nocpu", Limits{Memory: 1 << 30})
	must(t, err)
	t.Cleanup(func() { g.Destroy() })
	if got := f.read("moat/cgroup.subtree_control"); got != "+memory +pids" {
		t.Errorf("subtree_control = %q, want +memory +pids", got)
	}
	if got := g.Controllers(); !slices.Equal(got, []string{"memory"}) {
		t.Errorf("Controllers() = %q, want [memory]", got)
	}
	if got := f.read("moat/moat-nocpu/pids.max"); got != "max\n" {
		t.Errorf("pids.max = %q, want untouched", got)
	}
	st, err := g.Stats()
	must(t, err)
	if st != (Stats{}) {
		t.Errorf("Stats() = %+v, want zero", st)
	}
}

func TestV2AlreadyEnabledNotRewritten(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	f.write("cgroup.subtree_control", "cpu io memory pids\n")
	g, err := f.h.new("moat-x", Limits{Memory: 1 << 30, Pids: 10, CPUs: 2})
	must(t, err)
	t.Cleanup(func() { g.Destroy() })
	if got := f.read("cgroup.subtree_control"); got != "cpu io memory pids\n" {
		t.Errorf("root subtree_control rewritten to %q", got)
	}
	if got := f.read("moat/moat-x/cpu.max"); got != "200000 100000" {
		t.Errorf("cpu.max = %q", got)
	}
}

func TestV2MissingControllerIsUnavailable(t *testing.T) {
	f := newFakeV2(t, 0, "cpu memory") // no pids
	_, err := f.h.new("moat-x", Limits{Memory: 1 << 30, Pids: 10})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "pids") {
		t.Fatalf("err = %v, want ErrUnavailable naming pids", err)
	}
	if _, err := os.Stat(filepath.Join(f.mnt, "moat/moat-x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("group left behind: %v", err)
	}
	// Without a pids limit the same host works.
	g, err := f.h.new("moat-y", Limits{Memory: 1 << 30})
	must(t, err)
	must(t, g.Destroy())
}

func TestV2FailedLimitLeavesNothing(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	f.omit["cpu.max"] = true // controller listed but file missing: write fails
	_, err := f.h.new("moat-x", Limits{Memory: 1 << 30, CPUs: 1})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "cpu limit") {
		t.Fatalf("err = %v, want ErrUnavailable naming cpu", err)
	}
	if _, err := os.Stat(filepath.Join(f.mnt, "moat/moat-x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("group left behind: %v", err)
	}
}

func TestV2NoSwapAccounting(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	f.omit["memory.swap.max"] = true
	f.omit["memory.peak"] = true // before Linux 5.19
	g, err := f.h.new("moat-x", Limits{Memory: 1 << 20})
	must(t, err)
	t.Cleanup(func() { g.Destroy() })
	if got := f.read("moat/moat-x/memory.max"); got != "1048576" {
		t.Errorf("memory.max = %q", got)
	}
	st, err := g.Stats()
	must(t, err)
	if st.PeakMemory != 0 {
		t.Errorf("PeakMemory = %d without memory.peak, want 0", st.PeakMemory)
	}
}

func TestV2ExistingGroupRefused(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	g, err := f.h.new("moat-x", Limits{})
	must(t, err)
	t.Cleanup(func() { g.Destroy() })
	f.write("moat/moat-x/cgroup.procs", "77\n")
	if _, err := f.h.new("moat-x", Limits{}); err == nil {
		t.Fatal("New adopted an existing group")
	}
	if got := f.read("moat/moat-x/cgroup.procs"); got != "77\n" {
		t.Errorf("existing group disturbed: cgroup.procs = %q", got)
	}
	f.write("moat/moat-x/cgroup.procs", "")
}

func TestV2Delegated(t *testing.T) {
	f := newFakeV2(t, 1000, allControllers)
	f.write("cgroup.subtree_control", "cpu io memory pids")
	svc := "user.slice/user-1000.slice/user@1000.service"
	for _, d := range []string{"user.slice", "user.slice/user-1000.slice", svc, svc + "/app.slice", svc + "/app.slice/run-r1.scope"} {
		must(t, f.mkdir(filepath.Join(f.mnt, d)))
		if d != svc+"/app.slice/run-r1.scope" {
			f.write(d+"/cgroup.subtree_control", "cpu memory pids")
		}
	}
	f.write(svc+"/app.slice/run-r1.scope/cgroup.procs", "4000\n")
	f.write("../self-cgroup", "0::/"+svc+"/app.slice/run-r1.scope\n")
	delegated := filepath.Join(f.mnt, svc)
	f.wr = func(p string) bool { return p == delegated || strings.HasPrefix(p, delegated+"/") }

	info, err := f.h.probe()
	must(t, err)
	if want := filepath.Join(delegated, "moat"); info.Base != want || info.Version != 2 ||
		!slices.Equal(info.Controllers, []string{"memory", "pids", "cpu"}) {
		t.Errorf("probe = %+v, want v2 base %s with memory pids cpu", info, want)
	}
	g, err := f.h.new("moat-u", Limits{Memory: 64 << 20, Pids: 16, CPUs: 0.5})
	must(t, err)
	if got := f.read(svc + "/moat/cgroup.subtree_control"); got != "+memory +pids +cpu" {
		t.Errorf("moat subtree_control = %q", got)
	}
	if got := f.read(svc + "/cgroup.subtree_control"); got != "cpu memory pids" {
		t.Errorf("delegated subtree_control rewritten to %q", got)
	}
	if got := f.read(svc + "/moat/moat-u/cpu.max"); got != "50000 100000" {
		t.Errorf("cpu.max = %q", got)
	}
	if got := f.read("cgroup.subtree_control"); got != "cpu io memory pids" {
		t.Errorf("root touched: %q", got)
	}
	must(t, g.Destroy())
	names, err := f.h.gc("moat-")
	must(t, err)
	if len(names) != 0 {
		t.Errorf("gc removed %q after Destroy", names)
	}
}

func TestV2NotDelegated(t *testing.T) {
	f := newFakeV2(t, 1000, allControllers)
	must(t, f.mkdir(filepath.Join(f.mnt, "user.slice")))
	f.write("../self-cgroup", "0::/user.slice\n")
	f.wr = func(string) bool { return false }
	_, err := f.h.probe()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("probe err = %v, want ErrUnavailable", err)
	}
	for _, want := range []string{"not delegated to uid 1000", "systemd-run --user --scope -p Delegate=yes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("probe err %q lacks %q", err, want)
		}
	}
	if _, err := f.h.new("moat-x", Limits{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("New err = %v, want ErrUnavailable", err)
	}
}

func TestV2KillByCgroupKill(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	g, err := f.h.new("moat-k", Limits{})
	must(t, err)
	f.write("moat/moat-k/cgroup.procs", "101\n102\n")
	must(t, g.Kill())
	if got := f.read("moat/moat-k/cgroup.kill"); got != "1" {
		t.Errorf("cgroup.kill = %q, want 1", got)
	}
	if len(f.killed) != 0 {
		t.Errorf("signalled %v; want cgroup.kill only", f.killed)
	}
	must(t, g.Destroy())
}

func TestV2KillByFreezeAndSignal(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	f.omit["cgroup.kill"] = true // before Linux 5.14
	g, err := f.h.new("moat-k", Limits{})
	must(t, err)
	must(t, os.Mkdir(filepath.Join(f.mnt, "moat/moat-k/child"), 0o755)) // made by the program
	f.write("moat/moat-k/child/cgroup.procs", "103\n")
	f.write("moat/moat-k/cgroup.procs", "101\n102\n")
	f.write("moat/moat-k/cgroup.events", "populated 1\nfrozen 1\n")
	must(t, g.Destroy())
	slices.Sort(f.killed)
	if !slices.Equal(f.killed, []int{101, 102, 103}) {
		t.Errorf("killed %v, want [101 102 103]", f.killed)
	}
	if _, err := os.Stat(filepath.Join(f.mnt, "moat/moat-k")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("group (with child) left behind: %v", err)
	}
}

func TestV2KillBySignalOnly(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	f.omit["cgroup.kill"] = true
	f.omit["cgroup.freeze"] = true // before Linux 5.2
	g, err := f.h.new("moat-k", Limits{})
	must(t, err)
	f.write("moat/moat-k/cgroup.procs", "101\n")
	must(t, g.Kill())
	if !slices.Equal(f.killed, []int{101}) {
		t.Errorf("killed %v, want [101]", f.killed)
	}
	must(t, g.Destroy())
}

func TestKillGivesUp(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	g, err := f.h.new("moat-k", Limits{})
	must(t, err)
	f.write("moat/moat-k/cgroup.procs", "101\n")
	f.h.sleep = func(time.Duration) {} // the process never goes away
	start := time.Now()
	if err := g.Kill(); err == nil || !strings.Contains(err.Error(), "still present") {
		t.Errorf("Kill() = %v, want timeout error", err)
	}
	if d := time.Since(start); d > 3*killTimeout {
		t.Errorf("Kill took %v", d)
	}
	f.write("moat/moat-k/cgroup.procs", "")
	must(t, g.Destroy())
}

func TestKillRefusesOwnPid(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	g, err := f.h.new("moat-k", Limits{})
	must(t, err)
	f.write("moat/moat-k/cgroup.procs", fmt.Sprint(os.Getpid()))
	if err := g.Kill(); err == nil || !strings.Contains(err.Error(), "own pid") {
		t.Errorf("Kill() = %v, want refusal", err)
	}
	f.write("moat/moat-k/cgroup.procs", "")
	must(t, g.Destroy())
}

func TestGCFake(t *testing.T) {
	f := newFakeV2(t, 0, allControllers)
	for _, n := range []string{"moat-a", "moat-b", "other-c"} {
		_, err := f.h.new(n, Limits{})
		must(t, err)
	}
	f.write("moat/moat-b/cgroup.procs", "5\n")
	names, err := f.h.gc("moat-")
	must(t, err)
	if !slices.Equal(names, []string{"moat-a"}) {
		t.Errorf("gc removed %q, want [moat-a]", names)
	}
	for n, want := range map[string]bool{"moat-a": false, "moat-b": true, "other-c": true} {
		if _, err := os.Stat(filepath.Join(f.mnt, "moat", n)); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", n, err == nil, want)
		}
	}
}

func TestCheckLimits(t *testing.T) {
	nan := 0.0
	nan = nan / nan
	for _, tt := range []struct {
		l  Limits
		ok bool
	}{
		{Limits{}, true},
		{Limits{Memory: 1, Pids: 1, CPUs: 0.01}, true},
		{Limits{Memory: -1}, false},
		{Limits{Pids: -1}, false},
		{Limits{CPUs: 0.001}, false},
		{Limits{CPUs: -1}, false},
		{Limits{CPUs: nan}, false},
	} {
		if err := checkLimits(tt.l); (err == nil) != tt.ok {
			t.Errorf("checkLimits(%+v) = %v", tt.l, err)
		}
	}
	for _, n := range []string{"", ".", "..", "a/b", "cgroup.procs"} {
		if checkName(n) == nil {
			t.Errorf("checkName(%q) accepted", n)
		}
	}
	if q := cpuQuota(1.5); q != 150000 {
		t.Errorf("cpuQuota(1.5) = %d", q)
	}
}

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	withCtl := filepath.Join(dir, "v2")
	empty := filepath.Join(dir, "v2empty")
	must(t, os.MkdirAll(withCtl, 0o755))
	must(t, os.MkdirAll(empty, 0o755))
	must(t, os.WriteFile(filepath.Join(withCtl, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(withCtl, "cgroup.subtree_control"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(empty, "cgroup.controllers"), []byte("\n"), 0o644))
	v2 := func(p string) string { return "41 31 0:38 / " + p + " rw - cgroup2 cgroup2 rw\n" }
	tests := []struct {
		name      string
		mountinfo string
		version   int // 0 = ErrUnavailable
		base      string
	}{
		{"hybrid uses v1", hybridMountinfo + v2(withCtl), 1, "/sys/fs/cgroup/memory/moat"},
		{"pure v2", v2(withCtl), 2, filepath.Join(withCtl, "moat")},
		{"v2 without controllers", v2(empty), 0, ""},
		{"nothing mounted", "22 1 8:1 / / rw - ext4 /dev/vda rw\n", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mi := filepath.Join(t.TempDir(), "mountinfo")
			must(t, os.WriteFile(mi, []byte(tt.mountinfo), 0o644))
			h := &host{mountinfo: mi, uid: 0, writable: func(string) bool { return true }}
			info, err := h.probe()
			if tt.version == 0 {
				if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("probe = %+v, %v; want ErrUnavailable", info, err)
				}
				return
			}
			if err != nil || info.Version != tt.version || info.Base != tt.base {
				t.Fatalf("probe = %+v, %v; want version %d base %s", info, err, tt.version, tt.base)
			}
		})
	}
}
