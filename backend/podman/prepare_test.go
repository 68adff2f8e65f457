package podman_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/podman"
	"github.com/moat-sandbox/moat/internal/pool"
	"github.com/moat-sandbox/moat/moattest"
)

// prepared runs every Spec in a container prepared ahead for it
// (Backend.Prepare, then Prepared.Run), so that the shared suites hold
// the prepared path to the guarantees of the cold one.
type prepared struct{ *podman.Backend }

func (b *prepared) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	sb, err := b.Prepare(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	return sb.Run(ctx, spec)
}

// TestPrepared: the conformance and adversarial suites through a
// prepared container, as podman runs for this moat (see TestPodman).
func TestPrepared(t *testing.T) {
	moattest.RequireBackend(t, "podman")
	opts := moattest.Options{Layers: layers, Container: moattest.ContainerOptions, AllowDegraded: os.Geteuid() != 0}
	moattest.Run(t, func() moat.Backend { return &prepared{podman.New(testImage(), "")} }, opts)
	t.Run("no-leftover-containers", func(t *testing.T) { wantNoContainers(t, "") })
}

// TestPoolIsolation: runs of one pool of containers see nothing of each
// other (moattest.PoolIsolation), and the pool leaves no container.
func TestPoolIsolation(t *testing.T) {
	moattest.RequireBackend(t, "podman")
	p, err := pool.New(podman.New(testImage(), ""), moat.Spec{AllowDegraded: os.Geteuid() != 0}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	moattest.PoolIsolation(t, p, 3)
	p.Close()
	wantNoContainers(t, "")
}

// TestPreparedDiesWaiting: a prepared container killed while it waits is
// refused as stale and leaves no container behind.
func TestPreparedDiesWaiting(t *testing.T) {
	moattest.RequireBackend(t, "podman")
	b := podman.New(testImage(), "")
	ctx := context.Background()
	tmpl := moat.Spec{AllowDegraded: os.Geteuid() != 0}
	sb, err := b.Prepare(ctx, &tmpl)
	if err != nil {
		t.Fatal(err)
	}
	name := sb.(*podman.Prepared).Name()
	if out, err := exec.Command("podman", "kill", "--signal", "KILL", name).CombinedOutput(); err != nil {
		t.Fatalf("podman kill: %v: %s", err, out)
	}
	select {
	case <-sb.Done():
	case <-time.After(time.Minute):
		t.Fatal("Done not closed a minute after the container was killed")
	}
	_, err = sb.Run(ctx, &moat.Spec{Args: []string{"-c", "print(1)"}, AllowDegraded: tmpl.AllowDegraded})
	if !errors.Is(err, moat.ErrStale) {
		t.Fatalf("run in a dead container: %v, want ErrStale", err)
	}
	sb.Close()
	wantNoContainer(t, name)
}

// TestPreparedClose: a Spec that does not fit is refused without using
// the container; one used is refused as stale; a prepared container
// closed unused leaves nothing.
func TestPreparedClose(t *testing.T) {
	moattest.RequireBackend(t, "podman")
	b := podman.New(testImage(), "")
	ctx := context.Background()
	deg := os.Geteuid() != 0
	sb, err := b.Prepare(ctx, &moat.Spec{AllowDegraded: deg})
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []*moat.Spec{
		{Args: []string{"-c", "pass"}, AllowDegraded: deg, Limits: moat.Limits{Memory: 300 << 20}},
		{Args: []string{"-c", "pass"}, AllowDegraded: deg, Image: "moat/other:none"},
		{Args: []string{"-c", "pass"}, AllowDegraded: deg, NoReport: true},
	} {
		if _, err := sb.Run(ctx, spec); !errors.Is(err, moat.ErrMismatch) {
			t.Errorf("%+v: %v, want ErrMismatch", spec, err)
		}
	}
	res, err := sb.Run(ctx, &moat.Spec{Args: []string{"-c", "print(6*7)"}, AllowDegraded: deg, Limits: moat.Limits{Timeout: 5 * time.Second}})
	if err != nil || res.Stdout != "42\n" {
		t.Fatalf("a fitting run after the mismatches: %v %+v", err, res)
	}
	if _, err := sb.Run(ctx, &moat.Spec{Args: []string{"-c", "pass"}, AllowDegraded: deg}); !errors.Is(err, moat.ErrStale) {
		t.Errorf("second run: %v, want ErrStale", err)
	}
	wantNoContainer(t, sb.(*podman.Prepared).Name())

	sb, err = b.Prepare(ctx, &moat.Spec{AllowDegraded: deg})
	if err != nil {
		t.Fatal(err)
	}
	sb.Close()
	<-sb.Done()
	wantNoContainer(t, sb.(*podman.Prepared).Name())
}

// wantNoContainer fails if podman still knows the container name.
func wantNoContainer(t *testing.T, name string) {
	t.Helper()
	out, err := exec.Command("podman", "ps", "--all", "--filter", "name=^"+name+"$", "--format", "{{.Names}}").CombinedOutput()
	if err != nil {
		t.Fatalf("podman ps: %v: %s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("container left behind: %s", s)
	}
}

// TestPreparedRootless: a pool of containers that rootless podman
// started as another user (moat as root): runs see nothing of each other
// and nothing is left in that user's store.
func TestPreparedRootless(t *testing.T) {
	u := rootlessUser(t)
	_, v2 := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	p, err := pool.New(podman.New(testImage(), u), moat.Spec{AllowDegraded: v2 != nil}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	moattest.PoolIsolation(t, p, 2)
	p.Close()
	wantNoContainers(t, u)
}
