package docker_test

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/backend/internal/enginetest"
	"github.com/moat-sandbox/moat/internal/pool"
	"github.com/moat-sandbox/moat/moattest"
)

// prepared runs every Spec in a container prepared ahead for it
// (Backend.Prepare, then Prepared.Run), so that the shared suites hold
// the prepared path to the guarantees of the cold one.
type prepared struct{ *docker.Backend }

func (b *prepared) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	sb, err := b.Prepare(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	return sb.Run(ctx, spec)
}

// TestPrepared: the conformance and adversarial suites through a
// prepared container.
func TestPrepared(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	moattest.Run(t, func() moat.Backend { return &prepared{docker.New(testImage(), "", "")} }, moattest.Options{Layers: layers, Container: moattest.ContainerOptions})
	t.Run("no-leftover-containers", func(t *testing.T) { enginetest.WantNoContainers(t) })
}

// TestPoolIsolation: runs of one pool of containers see nothing of each
// other (moattest.PoolIsolation), and the pool leaves no container.
func TestPoolIsolation(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	p, err := pool.New(docker.New(testImage(), "", ""), moat.Spec{}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	moattest.PoolIsolation(t, p, 3)
	p.Close()
	enginetest.WantNoContainers(t)
}

// TestPreparedDiesWaiting: a prepared container killed while it waits is
// refused as stale and leaves nothing: no container, no volume, no record
// in Docker's containerd.
func TestPreparedDiesWaiting(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	b := docker.New(testImage(), "", "")
	ctx := context.Background()
	sb, err := b.Prepare(ctx, &moat.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	id := sb.(*docker.Prepared).ID()
	vols := anonVolumes(t)
	if out, err := exec.Command("docker", "kill", id).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v: %s", err, out)
	}
	select {
	case <-sb.Done():
	case <-time.After(time.Minute):
		t.Fatal("Done not closed a minute after the container was killed")
	}
	_, err = sb.Run(ctx, &moat.Spec{Args: []string{"-c", "print(1)"}})
	if !errors.Is(err, moat.ErrStale) {
		t.Fatalf("run in a dead container: %v, want ErrStale", err)
	}
	sb.Close()
	wantGone(t, id, vols)
}

// TestPreparedClose: a prepared container closed unused leaves nothing;
// one used is refused as stale; a Spec that does not fit is refused
// without using it.
func TestPreparedClose(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	b := docker.New(testImage(), "", "")
	ctx := context.Background()
	sb, err := b.Prepare(ctx, &moat.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	id := sb.(*docker.Prepared).ID()
	vols := anonVolumes(t)
	for _, spec := range []*moat.Spec{
		{Args: []string{"-c", "pass"}, Limits: moat.Limits{Memory: 300 << 20}},
		{Args: []string{"-c", "pass"}, Image: "moat/other:none"},
		{Args: []string{"-c", "pass"}, NoReport: true},
	} {
		if _, err := sb.Run(ctx, spec); !errors.Is(err, moat.ErrMismatch) {
			t.Errorf("%+v: %v, want ErrMismatch", spec, err)
		}
	}
	res, err := sb.Run(ctx, &moat.Spec{Args: []string{"-c", "print(6*7)"}, Limits: moat.Limits{Timeout: 5 * time.Second}})
	if err != nil || res.Stdout != "42\n" {
		t.Fatalf("a fitting run after the mismatches: %v %+v", err, res)
	}
	if _, err := sb.Run(ctx, &moat.Spec{Args: []string{"-c", "pass"}}); !errors.Is(err, moat.ErrStale) {
		t.Errorf("second run: %v, want ErrStale", err)
	}
	sb.Close() // waits for the removal the run began
	wantGone(t, id, vols)

	sb, err = b.Prepare(ctx, &moat.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	id = sb.(*docker.Prepared).ID()
	sb.Close()
	<-sb.Done()
	wantGone(t, id, vols)
	if _, err := sb.Run(ctx, &moat.Spec{Args: []string{"-c", "pass"}}); !errors.Is(err, moat.ErrStale) {
		t.Errorf("run after Close: %v, want ErrStale", err)
	}
}

// anonVolumes lists the volumes that no moat init owns (an anonymous
// volume a container would leave).
func anonVolumes(t *testing.T) []string {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	l, err := cli.VolumeList(context.Background(), volume.ListOptions{Filters: filters.NewArgs(filters.Arg("dangling", "true"))})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range l.Volumes {
		if _, ok := v.Labels["moat.init"]; !ok {
			out = append(out, v.Name)
		}
	}
	return out
}

// wantGone fails if the container id is still known to Docker or to its
// containerd, or if a volume appeared beside before.
func wantGone(t *testing.T, id string, before []string) {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerInspect(context.Background(), id); !client.IsErrNotFound(err) {
		t.Errorf("container %s: %v, want it gone", id[:12], err)
	}
	// Docker's containerd: the record of a removed container goes with
	// it (a leftover record was found once after failed starts).
	sock, err := enginetest.ContainerdSocket()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ctr", "-a", sock, "-n", "moby", "containers", "ls", "-q").CombinedOutput()
	if err != nil {
		t.Logf("ctr (containerd's records not checked): %v: %s", err, out)
	} else if strings.Contains(string(out), id) {
		t.Errorf("containerd still holds a record of %s", id[:12])
	}
	for _, v := range anonVolumes(t) {
		if !slices.Contains(before, v) {
			t.Errorf("volume %s left behind", v)
		}
	}
}
