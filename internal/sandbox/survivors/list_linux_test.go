package survivors

import (
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestList: a process in a session of its own is a daemon's, one in the
// program's session is not, its command line is read; a kernel thread
// (pid 2, kthreadd, where this runs in the host's PID namespace) is never
// a survivor.
func TestList(t *testing.T) {
	daemon := exec.Command("sleep", "30")
	daemon.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	child := exec.Command("sleep", "31")
	for _, c := range []*exec.Cmd{daemon, child} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Process.Kill(); _ = c.Wait() }()
	}
	sid, err := unix.Getsid(0)
	if err != nil {
		t.Fatal(err)
	}
	ps := List(0, []int{sid}, func() []int { return []int{daemon.Process.Pid, child.Process.Pid} })
	if len(ps) != 2 || !ps[0].Own || ps[0].Cmd != "sleep 30" || ps[0].SID != daemon.Process.Pid ||
		ps[1].Own || ps[1].Cmd != "sleep 31" {
		t.Errorf("listed %+v", ps)
	}
	// At a stop, the daemon alone: the child is the program's work.
	ps = AtStop(0, []int{sid}, func() []int { return []int{daemon.Process.Pid, child.Process.Pid} })
	if len(ps) != 1 || !ps[0].Own || ps[0].Cmd != "sleep 30" {
		t.Errorf("at a stop, listed %+v", ps)
	}
	// The program's own children do not count towards Max: more of them
	// than Max before the daemon do not hide it.
	crowd := make([]int, 0, 2*Max+1)
	for range 2 * Max {
		crowd = append(crowd, child.Process.Pid)
	}
	crowd = append(crowd, daemon.Process.Pid)
	ps = AtStop(0, []int{sid}, func() []int { return crowd })
	if len(ps) != 1 || ps[0].Cmd != "sleep 30" || ps[0].More {
		t.Errorf("at a stop behind %d children, listed %+v", 2*Max, ps)
	}
	if comm, _ := readBounded("/proc/2/comm", 64); string(comm) != "kthreadd\n" {
		t.Skipf("pid 2 is %q, not kthreadd: not the host's PID namespace", comm)
	}
	if ps := List(0, []int{sid}, func() []int { return []int{2} }); len(ps) != 0 {
		t.Errorf("a kernel thread listed: %+v", ps)
	}
}
