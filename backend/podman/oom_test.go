package podman

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/moattest"
)

// TestMemoryWithoutCgroup: a container killed at its memory limit before
// moat found its cgroup (a quick breach on a loaded host; seen once in the
// soak's 200 runs) is still reported as status memory, from the file
// conmon leaves, not as a SIGKILL of unknown origin.
func TestMemoryWithoutCgroup(t *testing.T) {
	moattest.RequireBackend(t, "podman")
	if os.Geteuid() != 0 || os.Getenv(UserEnv) != "" {
		t.Skip("rootful podman only: a rootless run's memory limit is RLIMIT_AS here")
	}
	findCgroup = false
	t.Cleanup(func() { findCgroup = true })
	image := os.Getenv("MOAT_TEST_IMAGE")
	if image == "" {
		image = "moat/python:bookworm"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := New(image, "").Run(ctx, &moat.Spec{Args: []string{"-c", "a = bytearray(400 << 20); print(len(a))"},
		Limits: moat.Limits{Memory: 64 << 20}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != moat.StatusMemory {
		t.Fatalf("status %s (exit %d, signal %d), want memory", res.Status, res.ExitCode, res.Signal)
	}
}
