package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests below run on a host whose cgroups are pure v2 with the memory,
// pids and cpu controllers (CI runs them in a VM: .ci/cgroup2-vm.sh); they
// skip elsewhere.

func requireV2Root(t *testing.T) Info { return requireRealRoot(t, 2) }

func newRealV2Group(t *testing.T, prefix string, l Limits) *v2Group {
	t.Helper()
	return newReal(t, prefix, l).(*v2Group)
}

// cgroupOf returns the v2 path of pid ("/moat/moat-test-1-2").
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	s := readTrim(t, fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, l := range strings.Split(s, "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	t.Fatalf("/proc/%d/cgroup has no v2 line:\n%s", pid, s)
	return ""
}

// startInto starts cmd cloned into g (CLONE_INTO_CGROUP through g's
// Entry), so it runs nothing outside the group.
func startInto(t *testing.T, g *v2Group, cmd *exec.Cmd) {
	t.Helper()
	e, err := g.Entry()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Dir == nil {
		t.Skip("kernel older than 5.7: no CLONE_INTO_CGROUP")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(e.Dir.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

func waitTimeout(t *testing.T, cmd *exec.Cmd, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s still running after %v", cmd.Path, d)
		return nil
	}
}

func killedBy(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == sig
}

func TestRealV2Probe(t *testing.T) {
	info := requireV2Root(t)
	t.Logf("probe: %+v", info)
	if info.Base != "/sys/fs/cgroup/moat" {
		t.Errorf("Base = %s, want /sys/fs/cgroup/moat", info.Base)
	}
}

func TestRealV2LimitsAndMembership(t *testing.T) {
	requireV2Root(t)
	g := newRealV2Group(t, "moat-test-", Limits{Memory: 64 << 20, Pids: 16, CPUs: 0.5})
	if got := strings.Join(g.Controllers(), ","); got != "memory,pids,cpu" {
		t.Errorf("Controllers() = %s", got)
	}
	want := map[string]string{
		"memory.max":      "67108864",
		"memory.swap.max": "0",
		"pids.max":        "16",
		"cpu.max":         "50000 100000",
	}
	for file, w := range want {
		p := filepath.Join(g.dir, file)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) && file == "memory.swap.max" {
			t.Logf("no %s: this kernel does not account swap", file)
			continue
		}
		if got := readTrim(t, p); got != w {
			t.Errorf("%s = %s, want %s", file, got, w)
		}
	}
	// The controllers are enabled down to the group: in the mount's root and
	// in the shared base.
	for _, dir := range []string{filepath.Dir(filepath.Dir(g.dir)), filepath.Dir(g.dir)} {
		on := strings.Fields(readTrim(t, filepath.Join(dir, "cgroup.subtree_control")))
		for _, c := range []string{"memory", "pids", "cpu"} {
			if !slices.Contains(on, c) {
				t.Errorf("%s/cgroup.subtree_control = %q, lacks %s", dir, on, c)
			}
		}
	}

	cmd := exec.Command("/bin/sh", "-c", "read x; sleep 60 & sleep 60")
	release := startBlocked(t, cmd)
	defer release()
	pid := cmd.Process.Pid
	if err := g.AddProc(pid); err != nil {
		t.Fatal(err)
	}
	rel := "/moat/" + filepath.Base(g.dir)
	if got := cgroupOf(t, pid); got != rel {
		t.Errorf("after AddProc, pid %d is in %s, want %s", pid, got, rel)
	}

	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(g.dir, "cgroup.procs")); got != "" {
		t.Errorf("cgroup.procs after Kill = %q", got)
	}
	if n, _, _ := readKeyed(filepath.Join(g.dir, "cgroup.events"), "populated"); n != 0 {
		t.Errorf("cgroup.events says populated %d after Kill", n)
	}
	if err := waitTimeout(t, cmd, 10*time.Second); !killedBy(err, syscall.SIGKILL) {
		t.Errorf("child ended with %v, want SIGKILL", err)
	}
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after Destroy: %v", g.dir, err)
	}
	if err := g.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// TestRealV2NoCPULimit: without a cpu limit, New leaves cpu.max alone and
// does not list cpu.
func TestRealV2NoCPULimit(t *testing.T) {
	requireV2Root(t)
	g := newRealV2Group(t, "moat-test-", Limits{Memory: 64 << 20, Pids: 16})
	if got := strings.Join(g.Controllers(), ","); got != "memory,pids" {
		t.Errorf("Controllers() = %s", got)
	}
	if p := filepath.Join(g.dir, "cpu.max"); exists(p) {
		if got := readTrim(t, p); got != "max 100000" {
			t.Errorf("cpu.max = %s, want the default", got)
		}
	}
}

// TestRealV2OOMKill starts a hog born in the group (CLONE_INTO_CGROUP) and
// expects the OOM killer, seen in Stats.
func TestRealV2OOMKill(t *testing.T) {
	requireV2Root(t)
	g := newRealV2Group(t, "moat-test-", Limits{Memory: 64 << 20, Pids: 64})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = []string{helperEnv + "=hog"}
	cmd.Stdin = strings.NewReader("go\n")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	startInto(t, g, cmd)
	err = waitTimeout(t, cmd, time.Minute)
	if !killedBy(err, syscall.SIGKILL) {
		t.Fatalf("hog ended with %v (output %q), want SIGKILL by the OOM killer", err, out.String())
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: %+v", st)
	if st.OOMKills < 1 {
		t.Errorf("OOMKills = %d, want >= 1", st.OOMKills)
	}
	// memory.peak is Linux 5.19; the kernel may charge a page or so past
	// the limit before it kills.
	if exists(filepath.Join(g.dir, "memory.peak")) && (st.PeakMemory <= 32<<20 || st.PeakMemory > 64<<20+1<<20) {
		t.Errorf("PeakMemory = %d, want near the 64 MiB limit", st.PeakMemory)
	}
	if st.PidsMaxHits != 0 {
		t.Errorf("PidsMaxHits = %d, want 0", st.PidsMaxHits)
	}
}

// TestRealV2PidsLimitAndKill: a shell forking past pids.max is refused,
// Stats counts it, and Kill empties the group.
func TestRealV2PidsLimitAndKill(t *testing.T) {
	requireV2Root(t)
	g := newRealV2Group(t, "moat-test-", Limits{Memory: 256 << 20, Pids: 8})
	// dash gives up on the first failed fork, leaving the sleeps it did
	// start running in the group.
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 50 ]; do sleep 60 & i=$((i+1)); done; wait`)
	startInto(t, g, cmd)
	waitTimeout(t, cmd, 30*time.Second)
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: %+v", st)
	if st.PidsMaxHits < 1 {
		t.Errorf("PidsMaxHits = %d, want >= 1", st.PidsMaxHits)
	}
	if st.OOMKills != 0 {
		t.Errorf("OOMKills = %d, want 0", st.OOMKills)
	}
	pids, err := treePids(g.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d processes in the group before Kill", len(pids))
	if len(pids) == 0 || len(pids) > 8 {
		t.Errorf("%d processes in the group before Kill, want 1..8", len(pids))
	}
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(g.dir, "cgroup.procs")); got != "" {
		t.Errorf("cgroup.procs after Kill = %q", got)
	}
	for _, p := range pids {
		if alive(p) {
			t.Errorf("pid %d alive after Kill", p)
		}
	}
}

// TestRealV2DestroyNested: a program that made groups of its own below its
// group (possible where the group is delegated to it) is killed with them,
// and Destroy removes them all.
func TestRealV2DestroyNested(t *testing.T) {
	requireV2Root(t)
	g := newRealV2Group(t, "moat-test-", Limits{Memory: 128 << 20, Pids: 32})
	// Processes live only in leaves (the no-internal-process rule).
	var pids []int
	for _, sub := range []string{"a", "a/b", "c"} {
		dir := filepath.Join(g.dir, sub)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if sub == "a" {
			continue
		}
		cmd := exec.Command("/bin/sh", "-c", "read x; sleep 60 & sleep 60")
		release := startBlocked(t, cmd)
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), fmt.Sprint(cmd.Process.Pid)); err != nil {
			t.Fatal(err)
		}
		release()
		pids = append(pids, cmd.Process.Pid)
	}
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after Destroy: %v", g.dir, err)
	}
	for _, p := range pids {
		if alive(p) {
			t.Errorf("pid %d alive after Destroy", p)
		}
	}
}

// TestRealV2KillWithoutCgroupKill empties a group the way kernels before
// 5.14 must: freeze, signal each process, thaw.
func TestRealV2KillWithoutCgroupKill(t *testing.T) {
	requireV2Root(t)
	g := newRealV2Group(t, "moat-test-", Limits{Pids: 64})
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 10 ]; do sleep 60 & i=$((i+1)); done; wait`)
	startInto(t, g, cmd)
	// Wait for the forks, then kill through the freezer path.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ps, err := treePids(g.dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) >= 11 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes in the group, want 11", len(ps))
		}
		time.Sleep(10 * time.Millisecond)
	}
	f := filepath.Join(g.dir, "cgroup.freeze")
	fz := freezer{
		freeze: func() error {
			if err := writeFile(f, "1"); err != nil {
				return err
			}
			return g.h.pollUntil(time.Second, func() (bool, error) {
				n, ok, err := readKeyed(filepath.Join(g.dir, "cgroup.events"), "frozen")
				return ok && n == 1, err
			})
		},
		thaw: func() error { return writeFile(f, "0") },
	}
	if err := g.h.killAll([]string{g.dir}, "", fz); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, f); got != "0" {
		t.Errorf("cgroup.freeze after kill = %s, want 0 (thawed)", got)
	}
	if err := waitTimeout(t, cmd, 10*time.Second); !killedBy(err, syscall.SIGKILL) {
		t.Errorf("shell ended with %v, want SIGKILL", err)
	}
}

func TestRealV2GC(t *testing.T) {
	requireV2Root(t)
	prefix := fmt.Sprintf("moat-gctest-%d-", os.Getpid())
	leftover := newRealV2Group(t, prefix, Limits{Memory: 64 << 20, Pids: 8, CPUs: 1})
	busy := newRealV2Group(t, prefix, Limits{Memory: 64 << 20})
	cmd := exec.Command("/bin/sh", "-c", "sleep 60")
	startInto(t, busy, cmd)
	names, err := GC(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Base(leftover.dir); len(names) != 1 || names[0] != want {
		t.Errorf("GC = %q, want [%s]", names, want)
	}
	if _, err := os.Stat(leftover.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after GC: %v", leftover.dir, err)
	}
	if _, err := os.Stat(busy.dir); err != nil {
		t.Errorf("busy group removed: %v", err)
	}
	if err := leftover.Destroy(); err != nil { // already gone: still fine
		t.Errorf("Destroy after GC: %v", err)
	}
}

// TestRealV2Watch: Watch reports a pids breach of a real group.
func TestRealV2Watch(t *testing.T) {
	requireV2Root(t)
	g := newRealV2Group(t, "moat-test-", Limits{Pids: 4})
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 20 ]; do sleep 60 & i=$((i+1)); done; wait`)
	got := make(chan Breach, 1)
	done := make(chan struct{})
	defer close(done)
	go Watch(g, done, func(b Breach) { got <- b })
	startInto(t, g, cmd)
	select {
	case b := <-got:
		if b != BreachPids {
			t.Errorf("breach %d, want BreachPids", b)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no breach reported")
	}
}
