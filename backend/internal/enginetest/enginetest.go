// Package enginetest holds the checks that the tests of the backends
// running through Docker (docker, gvisor's image mode) make of what their
// runs left at the daemon.
package enginetest

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/moat-sandbox/moat/backend/docker"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
)

// WantNoContainers fails the test if the daemon has a container labelled
// by moat, or if Docker's containerd (namespace moby) keeps the record of
// a container of moat that Docker no longer has: Docker removed the
// container but not what it had made of it in containerd (see
// ContainerdOrphans).
func WantNoContainers(t *testing.T) {
	t.Helper()
	cli := WantNoLabelled(t)
	defer cli.Close()
	orphans, err := ContainerdOrphans(context.Background(), cli)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orphans {
		t.Errorf("containerd keeps a record of a removed container of moat: %s", o)
	}
}

// WantNoLabelled fails the test if the daemon has a container labelled by
// moat: WantNoContainers without its look at containerd, which takes
// root. It returns its client, which the caller closes.
func WantNoLabelled(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", ctr.Label))})
	if err != nil {
		cli.Close()
		t.Fatal(err)
	}
	for _, c := range list {
		t.Errorf("container left behind: %s %v %s", c.ID[:12], c.Names, c.State)
	}
	return cli
}

// ContainerdOrphans lists the orphaned records of moat's containers in
// Docker's containerd (docker.Orphans), each as a line.
func ContainerdOrphans(ctx context.Context, cli *client.Client) ([]string, error) {
	sock, err := docker.ContainerdSocket()
	if err != nil {
		return nil, err
	}
	orphans, err := docker.Orphans(ctx, cli, sock)
	var lines []string
	for _, o := range orphans {
		lines = append(lines, o.String())
	}
	return lines, err
}

// ContainerdSocket is docker.ContainerdSocket.
func ContainerdSocket() (string, error) { return docker.ContainerdSocket() }
