//go:build linux

package microvm_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/microvm"
	"github.com/moat-sandbox/moat/moattest"
)

// TestMain: this test binary is also the guests' init (moat's binary is,
// in a real install).
func TestMain(m *testing.M) {
	microvm.Init()
	os.Exit(m.Run())
}

func newBackend() moat.Backend { return &microvm.Backend{} }

// options: the program runs on a guest kernel, so its processes are not
// the host's (the Sentry relaxations: the cleanup and orphan cases require
// that nothing of a run is left on the host instead); the guest's RAM is
// the program's limit plus the VM's own share. Under TCG emulation
// (emulated true) a guest boots in seconds of CPU: the cases run one at a
// time, and every bound on a case grows by a boot's worst case on a loaded
// host.
func options(emulated bool) moattest.Options {
	o := moattest.Options{
		Layers: []string{"microvm", "guest-kernel", "read-only-runtime", "channel", "disk", "network-none", "seccomp", "user", "cgroup-v2", "rlimits", "timeout", "output-limit"},
		Sentry: &moattest.Sentry{Leftovers: microvm.Leftovers},
	}
	if emulated {
		o.Serial, o.StartBound = true, 90*time.Second
	}
	return o
}

// TestMicroVM runs the shared suites. Under TCG emulation every case boots
// a guest in software (tens of seconds each on a busy host), so the suite
// runs there only when microvm is in MOAT_REQUIRE_BACKENDS or
// MOAT_TEST_MICROVM=1; with KVM it always runs.
func TestMicroVM(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	emulated := b.(moat.AutoPicker).AutoPick(context.Background()) != nil
	if emulated && !moattest.Required("microvm") && os.Getenv("MOAT_TEST_MICROVM") != "1" {
		t.Skip("the suite under TCG boots some 70 guests in software: set MOAT_TEST_MICROVM=1 or require microvm")
	}
	start := time.Now()
	moattest.Run(t, newBackend, options(emulated))
	t.Logf("suite wall time %s", time.Since(start).Round(time.Second))
	if left := microvm.Leftovers(); len(left) > 0 {
		t.Errorf("left on the host after the suite: %q", left)
	}
}

// TestRefused: what the guest does not have is refused, not weakened.
func TestRefused(t *testing.T) {
	for _, spec := range []*moat.Spec{
		{Args: []string{"-c", "pass"}, Network: moat.NetworkSinkhole},
		{Args: []string{"-c", "pass"}, Image: "python:3"},
		{Args: []string{"-c", "pass"}, Userland: true},
	} {
		_, err := (&microvm.Backend{}).Run(context.Background(), spec)
		if !errors.Is(err, moat.ErrUnsupported) {
			t.Errorf("%+v: %v, want ErrUnsupported", spec, err)
		}
	}
}

// TestGuestKernel: the program runs on the guest's kernel, not the host's,
// and the Result names the accelerator.
func TestGuestKernel(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	host, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", "print(open('/proc/sys/kernel/random/boot_id').read().strip())"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		t.Fatalf("result: %+v", res)
	}
	if got := strings.TrimSpace(res.Stdout); got == "" || got == strings.TrimSpace(string(host)) {
		t.Errorf("boot id %q: the program saw the host's kernel (host %q)", got, strings.TrimSpace(string(host)))
	}
	var vm string
	for _, l := range res.Layers {
		if l.Name == "microvm" {
			vm = l.Detail
		}
	}
	if !strings.Contains(vm, "accelerator kvm") && !strings.Contains(vm, "accelerator tcg") {
		t.Errorf("the microvm layer does not name the accelerator: %q", vm)
	}
}
