package gvisor

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/sandbox/cgroup"
)

// startInGroup starts `runsc run` so that it is born in the run's cgroup:
// then the gofer, the Sentry and its stubs, which it forks, are born there
// too, runsc needs no cgroup of its own (--ignore-cgroups), and nothing of
// the run is ever outside the group that bounds and kills it.
//
// Why not let runsc join the group (cgroupsPath): it moves its whole
// process in and, after the sandbox started, out again. Each such move takes
// the kernel's global cgroup_threadgroup_rwsem for writing, which waits for
// an RCU grace period: 10-20ms of every run's start on cgroup v1.
//
// On v2 the child is cloned into the group (CLONE_INTO_CGROUP). On v1 a
// thread of moat, locked to its goroutine, moves itself alone into the
// group (a write of "0" to each hierarchy's tasks file takes no global
// lock), forks runsc, which inherits the thread's groups, and moves itself
// back. The thread stays locked until done is closed: runsc's parent-death
// signal is tied to the thread that forked it, which must not exit while
// runsc runs.
//
// newCmd builds the command; inGroup tells it whether runsc starts in the
// group (and must leave cgroups alone) or has to join it itself, which is
// the way when neither of the above is available. A runsc started with
// inGroup that is not found in the group is killed and an error returned:
// it never runs outside its limits.
//
// With ns (a sinkhole's network namespace, sink_linux.go), runsc is forked
// from a thread that entered ns, which stays locked until done is closed
// and then ends: runsc is born in ns.
func startInGroup(g cgroup.Group, id string, ns *os.File, newCmd func(inGroup bool) *exec.Cmd, done <-chan struct{}) (*exec.Cmd, error) {
	plain := func() (*exec.Cmd, error) {
		cmd := newCmd(false)
		return cmd, inNetns(ns, done, cmd.Start)
	}
	e, err := g.Entry()
	if err != nil {
		return plain()
	}
	defer e.Close()
	if e.Dir != nil {
		cmd := newCmd(true)
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(e.Dir.Fd())
		if err := inNetns(ns, done, cmd.Start); err != nil {
			return plain() // no clone3 here
		}
		return cmd, checkInGroup(g, cmd, id)
	}
	if g.Version() != 1 || len(e.Self) == 0 {
		// On v2, Self moves a whole process: never moat's.
		return plain()
	}
	home, err := cgroup.Home(g)
	if err != nil {
		return plain()
	}
	defer func() {
		for _, f := range home {
			f.Close()
		}
	}()
	type result struct {
		cmd *exec.Cmd
		err error
	}
	resc := make(chan result, 1)
	var fork func(locked chan<- struct{})
	fork = func(locked chan<- struct{}) {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread owns moat's memory accounting on v1
			// (mm->owner): it never enters a run's group. A new
			// goroutine runs on another thread while this one is
			// locked here.
			l := make(chan struct{})
			go fork(l)
			<-l
			runtime.UnlockOSThread()
			return
		}
		if locked != nil {
			close(locked)
		}
		if err := cgroup.Enter(e.Self); err != nil {
			// Maybe in some hierarchies: leave them, or never serve
			// another goroutine (the thread ends with this one).
			// runsc is not started from this thread.
			if cgroup.Enter(home) == nil {
				runtime.UnlockOSThread()
			}
			resc <- result{}
			return
		}
		if ns != nil {
			if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
				// Still in moat's namespace: leave the group as above;
				// plain() tries again and fails alike.
				if cgroup.Enter(home) == nil {
					runtime.UnlockOSThread()
				}
				resc <- result{}
				return
			}
		}
		cmd := newCmd(true)
		serr := cmd.Start()
		left := cgroup.Enter(home) == nil
		resc <- result{cmd, serr}
		if serr == nil {
			<-done // runsc's parent-death signal is this thread's
		}
		if left && ns == nil {
			// Otherwise this thread is still in the run's group, or in
			// the run's network namespace: it ends with this goroutine.
			runtime.UnlockOSThread()
		}
	}
	go fork(nil)
	res := <-resc
	if res.cmd == nil {
		return plain()
	}
	if res.err != nil {
		return res.cmd, res.err
	}
	return res.cmd, checkInGroup(g, res.cmd, id)
}

// checkInGroup verifies that the started runsc is in the run's group
// (v2), or in every v1 hierarchy of a limit the group sets, and kills it
// if not.
func checkInGroup(g cgroup.Group, cmd *exec.Cmd, id string) error {
	v2, limited := g.Version() == 2, g.Controllers()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
	if err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) != 3 {
				continue
			}
			bounds := parts[1] == "" && v2
			for _, c := range strings.Split(parts[1], ",") {
				bounds = bounds || slices.Contains(limited, c)
			}
			if bounds && !strings.HasSuffix(parts[2], "/moat/"+id) {
				err = fmt.Errorf("runsc is in %s, not in the run's group", line)
				break
			}
		}
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("start runsc in the run's cgroup: %w", err)
	}
	return nil
}
