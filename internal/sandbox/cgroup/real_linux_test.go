package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a helper process instead of
// running tests; the value names the helper.
const helperEnv = "MOAT_CGROUP_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "hog":
		// Wait to be moved into the group, then allocate and touch 200 MiB.
		bufio.NewReader(os.Stdin).ReadString('\n')
		b := make([]byte, 200<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		fmt.Println("survived", len(b))
		os.Exit(0)
	case "enter":
		// Enter the group through the files from fd 3 on (count in
		// MOAT_CGROUP_TEST_N) on this one thread, then print the cgroups of
		// a process forked from the same thread.
		runtime.LockOSThread()
		n, _ := strconv.Atoi(os.Getenv("MOAT_CGROUP_TEST_N"))
		files := make([]*os.File, n)
		for i := range files {
			files[i] = os.NewFile(uintptr(3+i), "cgroup")
		}
		if err := Enter(files); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out, err := exec.Command("/bin/cat", "/proc/self/cgroup").Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(out)
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "unknown helper")
		os.Exit(2)
	}
}

// requireRealRoot skips unless the test can create real groups of the
// given version; for v2 it needs every controller this package limits.
func requireRealRoot(t *testing.T, version int) Info {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root to create cgroup v%d groups", version)
	}
	info, err := Probe()
	if err != nil {
		t.Skipf("cgroups unavailable: %v", err)
	}
	if info.Version != version {
		t.Skipf("this host's memory controller is on cgroup v%d", info.Version)
	}
	if version == 2 {
		if got := strings.Join(info.Controllers, ","); got != "memory,pids,cpu" {
			t.Skipf("cgroup v2 without all of memory, pids and cpu (have %q)", got)
		}
	}
	return info
}

func requireV1Root(t *testing.T) { requireRealRoot(t, 1) }

var groupSeq atomic.Int64

// newReal creates a real group that is destroyed when the test ends; the
// cleanup fails the test if a directory of it survives.
func newReal(t *testing.T, prefix string, l Limits) Group {
	t.Helper()
	name := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), groupSeq.Add(1))
	g, err := New(name, l)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	switch vg := g.(type) {
	case *v1Group:
		dirs = vg.dirs
	case *v2Group:
		dirs = []string{vg.dir}
	}
	t.Cleanup(func() {
		if err := g.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		for _, d := range dirs {
			if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s survives Destroy: %v", d, err)
			}
		}
	})
	return g
}

func newRealGroup(t *testing.T, prefix string, l Limits) *v1Group {
	t.Helper()
	return newReal(t, prefix, l).(*v1Group)
}

// startBlocked starts cmd with a stdin pipe so that it can wait, with "read",
// until it has been added to the group; release lets it go.
func startBlocked(t *testing.T, cmd *exec.Cmd) (release func()) {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return func() { in.Write([]byte("go\n")); in.Close() }
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestRealV1LimitsAndMembership(t *testing.T) {
	requireV1Root(t)
	g := newRealGroup(t, "moat-test-", Limits{Memory: 64 << 20, Pids: 16, CPUs: 0.5})
	if got := strings.Join(g.Controllers(), ","); got != "memory,pids,cpu" {
		t.Errorf("Controllers() = %s", got)
	}
	for file, want := range map[string]string{
		filepath.Join(g.ctl["memory"], "memory.limit_in_bytes"):       "67108864",
		filepath.Join(g.ctl["memory"], "memory.memsw.limit_in_bytes"): "67108864",
		filepath.Join(g.ctl["pids"], "pids.max"):                      "16",
		filepath.Join(g.ctl["cpu"], "cpu.cfs_period_us"):              "100000",
		filepath.Join(g.ctl["cpu"], "cpu.cfs_quota_us"):               "50000",
	} {
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) && strings.Contains(file, "memsw") {
			continue // no swap accounting on this kernel
		}
		if got := readTrim(t, file); got != want {
			t.Errorf("%s = %s, want %s", file, got, want)
		}
	}

	cmd := exec.Command("/bin/sh", "-c", "sleep 30")
	release := startBlocked(t, cmd)
	defer release()
	pid := cmd.Process.Pid
	if err := g.AddProc(pid); err != nil {
		t.Fatal(err)
	}
	rel := "/moat/" + filepath.Base(g.dirs[0])
	own := readTrim(t, fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, ctl := range []string{"memory", "pids", "cpu", "freezer"} {
		if !hasCgroupLine(own, ctl, rel) {
			t.Errorf("/proc/%d/cgroup has no %s:%s line:\n%s", pid, ctl, rel, own)
		}
	}

	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, d := range g.dirs {
		if got := readTrim(t, filepath.Join(d, "cgroup.procs")); got != "" {
			t.Errorf("%s/cgroup.procs after Kill = %q", d, got)
		}
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("child ended with %v, want SIGKILL", err)
	}
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, d := range g.dirs {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after Destroy: %v", d, err)
		}
	}
	if err := g.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// hasCgroupLine reports whether a /proc/<pid>/cgroup text places the
// process at path in the hierarchy of controller ctl.
func hasCgroupLine(text, ctl, path string) bool {
	for _, l := range strings.Split(text, "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 || parts[2] != path {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == ctl {
				return true
			}
		}
	}
	return false
}

func TestRealV1OOMKill(t *testing.T) {
	requireV1Root(t)
	g := newRealGroup(t, "moat-test-", Limits{Memory: 64 << 20, Pids: 64})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = []string{helperEnv + "=hog"}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	release := startBlocked(t, cmd)
	if err := g.AddProc(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	release()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
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
	// The kernel may charge a page or so past the limit before it kills.
	if st.PeakMemory <= 32<<20 || st.PeakMemory > 64<<20+1<<20 {
		t.Errorf("PeakMemory = %d, want near the 64 MiB limit", st.PeakMemory)
	}
}

func TestRealV1PidsLimitAndKill(t *testing.T) {
	requireV1Root(t)
	g := newRealGroup(t, "moat-test-", Limits{Memory: 256 << 20, Pids: 8})
	// dash gives up on the first failed fork, leaving the sleeps it did
	// start running in the group.
	cmd := exec.Command("/bin/sh", "-c", `read x; i=0; while [ $i -lt 50 ]; do sleep 5 & i=$((i+1)); done; wait`)
	release := startBlocked(t, cmd)
	if err := g.AddProc(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	release()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("shell did not stop forking")
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: %+v", st)
	if st.PidsMaxHits < 1 {
		t.Errorf("PidsMaxHits = %d, want >= 1", st.PidsMaxHits)
	}
	pids, err := treePids(g.ctl["pids"])
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
	for _, d := range g.dirs {
		if got := readTrim(t, filepath.Join(d, "cgroup.procs")); got != "" {
			t.Errorf("%s/cgroup.procs after Kill = %q", d, got)
		}
	}
	for _, p := range pids {
		if alive(p) {
			t.Errorf("pid %d alive after Kill", p)
		}
	}
	if state := readTrim(t, filepath.Join(g.ctl["freezer"], "freezer.state")); state != "THAWED" {
		t.Errorf("freezer.state after Kill = %s, want THAWED", state)
	}
}

// alive reports whether pid exists and is not a zombie. The killed sleeps
// were orphaned, so whether they are reaped depends on pid 1.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

func TestRealV1GC(t *testing.T) {
	requireV1Root(t)
	prefix := fmt.Sprintf("moat-gctest-%d-", os.Getpid())
	leftover := newRealGroup(t, prefix, Limits{Memory: 64 << 20, Pids: 8, CPUs: 1})
	busy := newRealGroup(t, prefix, Limits{Memory: 64 << 20})
	cmd := exec.Command("/bin/sh", "-c", "sleep 30")
	startBlocked(t, cmd)
	if err := busy.AddProc(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	names, err := GC(prefix)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Base(leftover.dirs[0])
	if len(names) != 1 || names[0] != want {
		t.Errorf("GC = %q, want [%s]", names, want)
	}
	for _, d := range leftover.dirs {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after GC: %v", d, err)
		}
	}
	for _, d := range busy.dirs {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("busy group removed: %v", err)
		}
	}
	if err := leftover.Destroy(); err != nil { // already gone: still fine
		t.Errorf("Destroy after GC: %v", err)
	}
}

func TestRealProbe(t *testing.T) {
	requireV1Root(t)
	info, err := Probe()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probe: %+v", info)
	if info.Base != "/sys/fs/cgroup/memory/moat" || strings.Join(info.Controllers, ",") != "memory,pids,cpu" {
		t.Errorf("Probe() = %+v", info)
	}
}

// enterHelper runs the "enter" helper with e's Self files and returns what
// it printed: the cgroups of a process it forked after entering.
func enterHelper(t *testing.T, e *Entry, sys *syscall.SysProcAttr) string {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{helperEnv + "=enter", "MOAT_CGROUP_TEST_N=" + strconv.Itoa(len(e.Self))}
	cmd.ExtraFiles = e.Self
	cmd.SysProcAttr = sys
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("enter helper: %v", err)
	}
	return string(out)
}

func TestRealV1Entry(t *testing.T) {
	requireV1Root(t)
	g := newRealGroup(t, "moat-test-", Limits{Memory: 64 << 20, Pids: 16})
	e, err := g.Entry()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Dir != nil || len(e.Self) != len(g.dirs) {
		t.Fatalf("v1 entry: dir %v, %d files for %d hierarchies", e.Dir, len(e.Self), len(g.dirs))
	}
	got := enterHelper(t, e, nil)
	rel := "/moat/" + filepath.Base(g.dirs[0])
	for _, ctl := range []string{"memory", "pids"} {
		if !hasCgroupLine(got, ctl, rel) {
			t.Errorf("a child forked after Enter is not in %s:%s:\n%s", ctl, rel, got)
		}
	}
}

// TestRealV2Entry creates a group on this host's cgroup2 mount even when
// it has no controllers (hybrid hosts): membership, CLONE_INTO_CGROUP and
// the Enter fallback work the same without them.
func TestRealV2Entry(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a cgroup2 group")
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := parseMountinfo(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var top string
	for _, m := range mounts {
		if m.Version == 2 {
			top = m.Point
			break
		}
	}
	if top == "" {
		t.Skip("no cgroup2 file system mounted")
	}
	h := realHost()
	if !h.cloneInto {
		t.Skip("kernel older than 5.7: no CLONE_INTO_CGROUP")
	}
	dir := filepath.Join(top, fmt.Sprintf("moat-test-%d-%d", os.Getpid(), groupSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a group on %s: %v", top, err)
	}
	g := &v2Group{h: h, dir: dir}
	t.Cleanup(func() {
		if err := g.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survives Destroy: %v", dir, err)
		}
	})
	e, err := g.Entry()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Dir == nil || len(e.Self) != 1 {
		t.Fatalf("v2 entry: dir %v, %d files", e.Dir, len(e.Self))
	}
	rel := "0::/" + strings.TrimPrefix(dir, top+"/")
	// Born in the group: the helper enters nothing (no files).
	born := enterHelper(t, &Entry{}, &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(e.Dir.Fd())})
	if !strings.Contains(born, rel+"\n") {
		t.Errorf("cloned into the group, but:\n%s", born)
	}
	// The fallback: the child moves itself with cgroup.procs.
	entered := enterHelper(t, e, nil)
	if !strings.Contains(entered, rel+"\n") {
		t.Errorf("entered through cgroup.procs, but:\n%s", entered)
	}
}

// TestRealV1Home: a thread enters a group alone and goes back home.
func TestRealV1Home(t *testing.T) {
	requireV1Root(t)
	g := newRealGroup(t, "moat-test-", Limits{Memory: 64 << 20, Pids: 16})
	e, err := g.Entry()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	home, err := Home(g)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, f := range home {
			f.Close()
		}
	}()
	if len(home) != len(e.Self) {
		t.Fatalf("%d home files for %d hierarchies", len(home), len(e.Self))
	}
	rel := "/moat/" + filepath.Base(g.dirs[0])
	self := func() string { // no t.Fatal off the test's goroutine
		b, _ := os.ReadFile("/proc/thread-self/cgroup")
		return strings.TrimSpace(string(b))
	}
	done := make(chan string, 3)
	go func() {
		runtime.LockOSThread() // this thread alone moves; it ends with the goroutine if it cannot go back
		before := self()
		if err := Enter(e.Self); err != nil {
			done <- "enter: " + err.Error()
			return
		}
		inside := self()
		if err := Enter(home); err != nil {
			done <- "home: " + err.Error()
			return
		}
		after := self()
		runtime.UnlockOSThread()
		if !hasCgroupLine(inside, "memory", rel) || !hasCgroupLine(inside, "pids", rel) {
			done <- "not in the group after Enter:\n" + inside
		} else if after != before {
			done <- "not back home:\nbefore\n" + before + "\nafter\n" + after
		} else {
			done <- ""
		}
	}()
	if msg := <-done; msg != "" {
		t.Fatal(msg)
	}
}
