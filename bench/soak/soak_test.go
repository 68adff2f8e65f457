package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/moattest"
)

func TestMain(m *testing.M) {
	native.Init() // the sandbox init re-executes this test binary
	os.Exit(m.Run())
}

// TestSoak is the soak made small: 60 native runs at concurrency 4, 12 on
// docker and podman and 6 (each kind once) on gVisor at concurrency 2, the
// mixed workload, every
// result's status checked; then nothing may be left behind and this
// process's descriptors and goroutines must be back where they were after
// each phase's warm-up. A backend that is not here is skipped with the
// reason, or fails where MOAT_REQUIRE_BACKENDS requires it.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs a hundred sandboxes")
	}
	tmp, err := os.MkdirTemp("", "soak-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o1777); err != nil { // a rootless podman user writes here too
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	t.Chdir(tmp) // a run must leave nothing in its caller's directory either
	cfg := Config{Image: os.Getenv("MOAT_TEST_IMAGE"), Marker: fmt.Sprintf("moat-soak-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	before := things(tmp, cfg.Marker)
	for _, p := range []Phase{{"native", 60, 4}, {"docker", 12, 2}, {"podman", 12, 2}, {"gvisor", 6, 2}} {
		t.Run(p.Backend, func(t *testing.T) {
			b := moattest.RequireBackend(t, p.Backend)
			r := RunPhase(context.Background(), b, p, cfg)
			t.Logf("%s: %.1f runs/s; statuses %v; descriptors %v, goroutines %v", p, r.RunsPerSecond(), r.Statuses, r.FDs, r.Goroutines)
			for _, w := range r.Wrong {
				t.Errorf("wrong result: %s", w)
			}
			if err := r.Flat(2); err != nil {
				t.Errorf("a run's descriptors or goroutines stayed: %v", err)
			}
			if err := CheckVolume(p.Backend); err != nil {
				t.Error(err)
			}
		})
	}
	for _, l := range Leaks(before, tmp, cfg.Marker, 30*time.Second) {
		t.Errorf("left behind: %s", l)
	}
}

// TestParsePhases: the -phases flag.
func TestParsePhases(t *testing.T) {
	ps, err := ParsePhases(FullPlan)
	if err != nil || len(ps) != 5 || ps[1] != (Phase{"native", 2000, 8}) {
		t.Errorf("ParsePhases(FullPlan) = %v, %v", ps, err)
	}
	for _, bad := range []string{"", "native", "native:0:1", "native:10:x", "native:10:1:2"} {
		if _, err := ParsePhases(bad); err == nil {
			t.Errorf("ParsePhases(%q): no error", bad)
		}
	}
}
