package gvisor

import (
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNetnsOfRunsc: what inNetns starts is born in the run's network
// namespace, which checkNetns confirms and refuses for a process started
// otherwise; and making namespaces never moves moat's own (its main
// thread's, which /proc/self shows and the sink compares against).
func TestNetnsOfRunsc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a network namespace takes root")
	}
	var before unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &before); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		ns, err := newNetns()
		if err != nil {
			t.Fatal(err)
		}
		ns.Close()
	}
	ns, err := newNetns()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	done := make(chan struct{})
	defer close(done)
	in := exec.Command("sleep", "30")
	if err := inNetns(ns, done, in.Start); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = in.Process.Kill(); _ = in.Wait() }()
	out := exec.Command("sleep", "30")
	if err := out.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = out.Process.Kill(); _ = out.Wait() }()
	if err := checkNetns(in.Process.Pid, ns); err != nil {
		t.Errorf("started in the namespace: %v", err)
	}
	if err := checkNetns(out.Process.Pid, ns); err == nil {
		t.Error("a process in moat's namespace passed the check")
	}
	var after unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &after); err != nil {
		t.Fatal(err)
	}
	if after.Ino != before.Ino {
		t.Errorf("moat's own network namespace changed (main thread moved)")
	}
}
