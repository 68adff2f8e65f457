//go:build linux

package gvisor_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/gvisor"
	"github.com/moat-sandbox/moat/internal/pool"
	"github.com/moat-sandbox/moat/moattest"
)

// preparedImage runs every spec in an image, in a container prepared
// ahead for it (Backend.Prepare: Docker's runsc), then Prepared.Run.
type preparedImage struct {
	*gvisor.Backend
	image string
}

func (b preparedImage) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	spec.Image = b.image
	sb, err := b.Prepare(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	return sb.Run(ctx, spec)
}

// TestPreparedImage: TestGVisorImageSuite's cases through a prepared
// container, and a pool of them whose runs see nothing of each other; a
// direct run (no image) is not prepared.
func TestPreparedImage(t *testing.T) {
	if _, err := (&gvisor.Backend{}).Prepare(context.Background(), &moat.Spec{}); !errors.Is(err, moat.ErrUnsupported) {
		t.Errorf("Prepare without an image: %v, want ErrUnsupported", err)
	}
	image := os.Getenv("MOAT_TEST_IMAGE")
	if image == "" {
		t.Skip("MOAT_TEST_IMAGE is not set (no local Python image)")
	}
	moattest.RequireBackend(t, "gvisor")
	moattest.RequireBackend(t, "docker")
	moattest.Run(t, func() moat.Backend { return preparedImage{&gvisor.Backend{}, image} }, moattest.Options{
		Layers:    []string{"engine", "runtime", "init", "user", "capabilities", "no-new-privs", "seccomp", "read-only-rootfs", "network", "disk", "limits", "timeout", "output-limit"},
		Container: &moattest.Container{ExtraDevices: []string{"tty", "ptmx", "pts", "fuse", "net", "mqueue", "core", "console"}, SuidRoot: true},
		Sentry: &moattest.Sentry{Leftovers: gvisor.Leftovers, MemoryOverhead: gvisor.SentryMemory,
			ShmLostAtLimit: "a run ended by its memory limit ends before its pid 1 has walked /dev/shm (SECURITY.md)"},
		Cases: []string{"exit-code", "stdin", "env", "files", "forged-frames", "report-tamper", "kill-init", "syscalls", "devices"},
	})
	t.Run("pool-isolation", func(t *testing.T) {
		p, err := pool.New(&gvisor.Backend{}, moat.Spec{Image: image}, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		moattest.PoolIsolation(t, p, 3)
	})
}
