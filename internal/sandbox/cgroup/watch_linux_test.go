package cgroup

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// watchFor runs Watch on g while start runs something in it, and returns
// the breach it reported (0 if none in a minute).
func watchFor(t *testing.T, g Group, start func()) Breach {
	t.Helper()
	got := make(chan Breach, 1)
	done := make(chan struct{})
	defer close(done)
	go Watch(g, done, func(b Breach) { got <- b })
	start()
	select {
	case b := <-got:
		return b
	case <-time.After(time.Minute):
		return 0
	}
}

// startIn returns what starts cmd in the v1 group g.
func startIn(t *testing.T, g *v1Group, cmd *exec.Cmd) func() {
	return func() {
		release := startBlocked(t, cmd)
		if err := g.AddProc(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		release()
	}
}

// TestRealV1Watch: Watch reports an OOM kill and a failed fork of real
// v1 groups with their own breach.
func TestRealV1Watch(t *testing.T) {
	requireV1Root(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("memory", func(t *testing.T) {
		g := newRealGroup(t, "moat-test-", Limits{Memory: 64 << 20, Pids: 64})
		cmd := exec.Command(exe)
		cmd.Env = []string{helperEnv + "=hog"}
		if b := watchFor(t, g, startIn(t, g, cmd)); b != BreachMemory {
			t.Errorf("breach %d, want BreachMemory", b)
		}
	})
	t.Run("pids", func(t *testing.T) {
		g := newRealGroup(t, "moat-test-", Limits{Memory: 256 << 20, Pids: 4})
		cmd := exec.Command("/bin/sh", "-c", `read x; i=0; while [ $i -lt 20 ]; do sleep 60 & i=$((i+1)); done; wait`)
		if b := watchFor(t, g, startIn(t, g, cmd)); b != BreachPids {
			t.Errorf("breach %d, want BreachPids", b)
		}
	})
}

// TestRealV2Notice: the inotify watch Watch waits on is woken when
// pids.events changes (a fork failed at pids.max).
func TestRealV2Notice(t *testing.T) {
	requireV2Root(t)
	g := newRealV2Group(t, "moat-test-", Limits{Pids: 4})
	in, err := inotify(filepath.Join(g.dir, "memory.events"), filepath.Join(g.dir, "pids.events"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	startInto(t, g, exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 20 ]; do sleep 60 & i=$((i+1)); done; wait`))
	_ = in.SetReadDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, 4096)
	if _, err := in.Read(buf); err != nil {
		t.Fatalf("no notice of pids.events: %v", err)
	}
	if n, _, err := readKeyed(filepath.Join(g.dir, "pids.events"), "max"); err != nil || n < 1 {
		t.Errorf("pids.events max = %d (%v), want >= 1", n, err)
	}
}
