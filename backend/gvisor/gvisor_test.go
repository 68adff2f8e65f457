//go:build linux

package gvisor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/gvisor"
	"github.com/moat-sandbox/moat/backend/internal/enginetest"
	"github.com/moat-sandbox/moat/moattest"

	"github.com/moat-sandbox/moat/backend/docker" // image mode runs through it
)

func newBackend() moat.Backend { return &gvisor.Backend{} }

// options are the suite's options for gVisor: the program runs on the
// Sentry, whose own devices (tty, ptmx, pts, fuse, net/tun) are emulated,
// not the host's.
func options() moattest.Options {
	return moattest.Options{
		Layers:    []string{"gvisor", "oci-bundle", "read-only-runtime", "disk", "network-none", "seccomp", "user", "rlimits", "timeout", "output-limit"},
		Container: &moattest.Container{ExtraDevices: []string{"tty", "ptmx", "pts", "fuse", "net"}},
		Sentry: &moattest.Sentry{Leftovers: gvisor.Leftovers, MemoryOverhead: gvisor.SentryMemory,
			ShmLostAtLimit: "a run ended by its memory limit ends before its pid 1 has walked /dev/shm (SECURITY.md)"},
	}
}

func TestGVisor(t *testing.T) {
	moattest.RequireBackend(t, "gvisor")
	moattest.Run(t, newBackend, options())
	if left := gvisor.Leftovers(); len(left) > 0 {
		t.Errorf("left on the host after the suite: %q", left)
	}
}

// TestHostData: the /etc data a CI runner has (moattest.HostData).
func TestHostData(t *testing.T) {
	moattest.RequireBackend(t, "gvisor")
	moattest.HostData(t, newBackend)
}

// TestGVisorImage runs an image under gVisor as Docker's runtime. CI sets
// MOAT_TEST_IMAGE to the image it builds and registers runsc with Docker.
func TestGVisorImage(t *testing.T) {
	image := os.Getenv("MOAT_TEST_IMAGE")
	if image == "" {
		t.Skip("MOAT_TEST_IMAGE is not set (no local Python image)")
	}
	b := moattest.RequireBackend(t, "gvisor")
	moattest.RequireBackend(t, "docker") // the image runs through it
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := b.Run(ctx, &moat.Spec{Image: image, Args: []string{"-c", "import os; print(os.uname().sysname)"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 || res.Stdout != "Linux\n" || res.Isolation != "gvisor" {
		t.Fatalf("result: %+v", res)
	}
}

// imageBackend runs every spec in an image: gVisor as Docker's runtime.
type imageBackend struct {
	*gvisor.Backend
	image string
}

func (b imageBackend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	spec.Image = b.image
	return b.Backend.Run(ctx, spec)
}

// TestGVisorImageSuite runs the cases that attack the container init and
// its report, and those of the layers gVisor's --image mode must have in
// effect, with the image under gVisor as Docker's runtime: there the
// program can open the init's /proc/1/fd, the layers are Docker's
// runtime's to apply, and a signal to pid 1 reaches the init; and the
// devices the Sentry makes, covered there by Docker's tmpfs mounts.
func TestGVisorImageSuite(t *testing.T) {
	image := os.Getenv("MOAT_TEST_IMAGE")
	if image == "" {
		t.Skip("MOAT_TEST_IMAGE is not set (no local Python image)")
	}
	moattest.RequireBackend(t, "gvisor")
	moattest.RequireBackend(t, "docker")
	moattest.Run(t, func() moat.Backend { return imageBackend{&gvisor.Backend{}, image} }, moattest.Options{
		Layers:    []string{"engine", "runtime", "init", "user", "capabilities", "no-new-privs", "seccomp", "read-only-rootfs", "network", "disk", "limits", "timeout", "output-limit"},
		Container: &moattest.Container{ExtraDevices: []string{"tty", "ptmx", "pts", "fuse", "net", "mqueue", "core", "console"}, SuidRoot: true},
		Sentry: &moattest.Sentry{Leftovers: gvisor.Leftovers, MemoryOverhead: gvisor.SentryMemory,
			ShmLostAtLimit: "a run ended by its memory limit ends before its pid 1 has walked /dev/shm (SECURITY.md)"},
		Cases: []string{"exit-code", "forged-frames", "report-tamper", "walk-flood", "hang-hides", "kill-init", "syscalls", "tiocsti", "devices", "user", "pty", "wait-calls"},
	})
	t.Run("no-leftover-containers", func(t *testing.T) { enginetest.WantNoContainers(t) })
}

// TestSinkhole: the shared sinkhole case on the Sentry (runsc
// --network=host in the run's own namespace, where moat's sink answers).
func TestSinkhole(t *testing.T) {
	moattest.RequireBackend(t, "gvisor")
	moattest.Sinkhole(t, newBackend(), nil)
	if left := gvisor.Leftovers(); len(left) > 0 {
		t.Errorf("left on the host: %q", left)
	}
}

// TestSinkholeImage: the shared sinkhole case with an image under gVisor
// as Docker's runtime, registered with --network=host as runsc-hostinet
// (CI's .ci/setup-gvsink.sh): moat serves the sink in the container's
// network namespace, where the Sentry's sockets are.
func TestSinkholeImage(t *testing.T) {
	image := os.Getenv("MOAT_TEST_IMAGE")
	if image == "" {
		t.Skip("MOAT_TEST_IMAGE is not set (no local Python image)")
	}
	moattest.RequireBackend(t, "gvisor")
	moattest.RequireBackend(t, "docker")
	if err := moat.Check(context.Background(), docker.New(image, docker.HostinetRuntime, "")); err != nil && !moattest.Required("gvisor") {
		t.Skip(err)
	}
	res := moattest.Sinkhole(t, imageBackend{&gvisor.Backend{}, image}, nil)
	if !strings.Contains(fmt.Sprint(res.Layers), docker.HostinetRuntime) {
		t.Errorf("no layer names the runtime %s: %+v", docker.HostinetRuntime, res.Layers)
	}
}

// sinkholeBackend runs every spec with the sinkhole network.
type sinkholeBackend struct{ *gvisor.Backend }

func (b sinkholeBackend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	spec.Network = moat.NetworkSinkhole
	return b.Backend.Run(ctx, spec)
}

// TestSinkholeSuite: the adversarial cases that try the host and the
// kernel's surface, with the sinkhole's network (the program's sockets
// are the host kernel's, in the run's own namespace): host files,
// processes and signals, denied calls, devices, socket families (vsock,
// packet, alg, xdp refused; lo the only interface), descriptors, and the
// cleanup after each.
func TestSinkholeSuite(t *testing.T) {
	moattest.RequireBackend(t, "gvisor")
	opts := options()
	opts.Layers = slices.Concat(slices.DeleteFunc(opts.Layers, func(l string) bool { return l == "network-none" }), []string{"network-sinkhole"})
	opts.Cases = []string{"host-files", "host-proc", "syscalls", "proc-sys-writes", "devices", "tiocsti", "socket-families",
		"signal-host", "inherited-fds", "capabilities", "uid", "hostname", "exit-code", "layers", "cancel", "limit-timeout", "cleanup"}
	moattest.Run(t, func() moat.Backend { return sinkholeBackend{&gvisor.Backend{}} }, opts)
}

// TestNetworkRefused: allow= is refused, not weakened.
func TestNetworkRefused(t *testing.T) {
	_, err := (&gvisor.Backend{}).Run(context.Background(), &moat.Spec{Args: []string{"-c", "pass"}, Network: "allow=example.com:443"})
	if !errors.Is(err, moat.ErrUnsupported) {
		t.Fatalf("allow: %v, want ErrUnsupported", err)
	}
}
