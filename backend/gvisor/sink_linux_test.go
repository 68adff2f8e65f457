package gvisor

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	ctr "github.com/moat-sandbox/moat/backend/internal/container"
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

// TestSinkRefusesRouteOut: a namespace with an interface besides lo is no
// sinkhole: the sink refuses it and sets up nothing there.
func TestSinkRefusesRouteOut(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a network namespace takes root")
	}
	ns, err := newNetns()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	done := make(chan struct{})
	close(done)
	add := exec.Command("ip", "link", "add", "moat-t0", "type", "veth", "peer", "name", "moat-t1")
	if err := inNetns(ns, done, add.Run); err != nil {
		t.Skipf("no veth pair here: %v", err)
	}
	s, err := ctr.StartSinkIn(int(ns.Fd()), nil, time.Now())
	if err == nil {
		s.Stop()
		t.Fatal("a sinkhole was set up in a namespace with a second interface")
	}
	if !strings.Contains(err.Error(), "besides lo") {
		t.Errorf("err = %v, want the second interface named", err)
	}
}
