package enginetest_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/docker/docker/client"

	_ "github.com/moat-sandbox/moat/backend/docker" // registers the backend RequireBackend checks
	"github.com/moat-sandbox/moat/backend/internal/enginetest"
	"github.com/moat-sandbox/moat/moattest"
)

// TestContainerdOrphans: a record in Docker's containerd that Docker does
// not have is reported when it runs moat's init, not when it runs
// anything else. (Two records are made with ctr, as a Docker that lost
// the removal of its containerd record leaves them, and removed after.)
func TestContainerdOrphans(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	sock, err := enginetest.ContainerdSocket()
	if err != nil {
		t.Fatal(err)
	}
	rootfs := t.TempDir()
	ids := map[string][]string{
		"orphan000000-moat-enginetest": {"/.moat/moat", "moat-container-init", "/.moat"},
		"other0000000-moat-enginetest": {"sleep", "1"},
	}
	for id, args := range ids {
		out, err := exec.Command("ctr", append([]string{"-a", sock, "-n", "moby", "containers", "create", "--rootfs", rootfs, id}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr containers create: %v: %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ctr", "-a", sock, "-n", "moby", "containers", "rm", id).Run() })
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	orphans, err := enginetest.ContainerdOrphans(context.Background(), cli)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(orphans, "\n")
	if !strings.Contains(got, "orphan000000 ") || strings.Contains(got, "other0000000") {
		t.Errorf("orphans: %q, want the record that runs moat's init alone", orphans)
	}
}
