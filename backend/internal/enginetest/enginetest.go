// Package enginetest holds the checks that the tests of the backends
// running through Docker (docker, gvisor's image mode) make of what their
// runs left at the daemon.
package enginetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

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

// ContainerdOrphans lists the records of Docker's containerd (namespace
// moby) that run moat's init or bootstrap (ctr.IsEntrypoint) and whose
// container Docker no longer has, with their task's status if they have
// one; a record still there 5 seconds after it was first seen so (Docker
// deletes the record of a container that exits before it removes the
// container). It reads containerd with its own client, ctr, which every
// containerd install has.
func ContainerdOrphans(ctx context.Context, cli *client.Client) ([]string, error) {
	sock, err := ContainerdSocket()
	if err != nil {
		return nil, err
	}
	ctrCmd := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "ctr", append([]string{"-a", sock, "-n", "moby"}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return out, nil
	}
	candidates := func() ([]string, error) {
		out, err := ctrCmd("containers", "ls", "-q")
		if err != nil {
			return nil, err
		}
		list, err := cli.ContainerList(ctx, container.ListOptions{All: true})
		if err != nil {
			return nil, fmt.Errorf("docker: list containers: %w", err)
		}
		var known []string
		for _, c := range list {
			known = append(known, c.ID)
		}
		var ids []string
		for _, id := range strings.Fields(string(out)) {
			if !slices.Contains(known, id) {
				ids = append(ids, id)
			}
		}
		return ids, nil
	}
	first, err := candidates()
	if err != nil || len(first) == 0 {
		return nil, err
	}
	time.Sleep(5 * time.Second)
	again, err := candidates()
	if err != nil {
		return nil, err
	}
	tasks, err := ctrCmd("tasks", "ls")
	if err != nil {
		return nil, err
	}
	var orphans []string
	for _, id := range first {
		if !slices.Contains(again, id) {
			continue
		}
		out, err := ctrCmd("containers", "info", id)
		if err != nil {
			continue // gone meanwhile
		}
		var info struct {
			CreatedAt time.Time
			Spec      struct {
				Process struct{ Args []string }
			}
		}
		if err := json.Unmarshal(out, &info); err != nil {
			return nil, fmt.Errorf("ctr containers info %s: %w", id, err)
		}
		if !ctr.IsEntrypoint(info.Spec.Process.Args) {
			continue
		}
		what := id[:12] + " (created " + info.CreatedAt.Format(time.RFC3339) + ")"
		for _, l := range strings.Split(string(tasks), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == id {
				what += ", task pid " + f[1] + " " + f[2]
			}
		}
		orphans = append(orphans, what)
	}
	return orphans, nil
}

// ContainerdSocket is the address of Docker's containerd: its own (a
// daemon that starts containerd itself) or the system's.
func ContainerdSocket() (string, error) {
	if _, err := exec.LookPath("ctr"); err != nil {
		return "", errors.New("ctr (containerd's client, in the containerd package) not found: cannot see Docker's containerd")
	}
	for _, s := range []string{"/run/docker/containerd/containerd.sock", "/run/containerd/containerd.sock"} {
		if fi, err := os.Stat(s); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return s, nil
		}
	}
	return "", errors.New("no containerd socket of Docker's (/run/docker/containerd, /run/containerd)")
}
