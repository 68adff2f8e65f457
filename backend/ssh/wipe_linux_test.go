package ssh

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// nsProcess starts sh in a PID namespace of its own (unshare --fork, as a
// run does) and returns it with the namespace's name; sh waits for its
// stdin to close, then says alive.
func nsProcess(t *testing.T) (*exec.Cmd, io.WriteCloser, *bufio.Reader, string) {
	t.Helper()
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child", "sh", "-c", "readlink /proc/self/ns/pid; read x; echo alive")
	cmd.Stderr = new(strings.Builder)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	r := bufio.NewReader(out)
	ns, err := r.ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Skipf("unshare of a PID namespace unavailable here: %v", err)
	}
	return cmd, in, r, strings.TrimSpace(ns)
}

// TestWipeReusedNamespace: the kernel gives a freed PID namespace's
// number to the next namespace made; a wipe that comes late (its run's
// namespace gone) must not kill the processes of the namespace that now
// has the number (another run's, or a probe's: their unshare then failed
// with "sigprocmask unblock failed: Invalid argument", its child killed).
func TestWipeReusedNamespace(t *testing.T) {
	for try := 0; try < 20; try++ {
		gone, in, _, old := nsProcess(t)
		in.Close()
		if err := gone.Wait(); err != nil {
			t.Fatalf("first namespace: %v", err)
		}
		other, in, r, ns := nsProcess(t)
		if ns != old {
			in.Close()
			_ = other.Wait()
			continue // the number went elsewhere this time: try again
		}
		out, err := exec.Command("/bin/sh", "-c", wipeCommand(t.TempDir()+"/run", 0, 0, old)).CombinedOutput()
		in.Close()
		said, _ := r.ReadString('\n')
		werr := other.Wait()
		if err != nil || strings.TrimSpace(string(out)) != "left=0" {
			t.Errorf("wipe: %q, %v", out, err)
		}
		if said != "alive\n" || werr != nil {
			t.Fatalf("the wipe of a gone namespace (%s) killed the process of the namespace that has its number now: said %q, %v: %s", old, said, werr, other.Stderr)
		}
		return
	}
	t.Skip("no namespace number was reused in 20 tries (other namespaces made meanwhile)")
}

// TestWipeKillsRun: with unshare's pid and its namespace, the wipe kills
// unshare, and every process of the namespace with it.
func TestWipeKillsRun(t *testing.T) {
	run, in, r, ns := nsProcess(t)
	defer in.Close()
	out, err := exec.Command("/bin/sh", "-c", wipeCommand(t.TempDir()+"/run", run.Process.Pid, startTime(t, run.Process.Pid), ns)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "left=0" {
		t.Errorf("wipe: %q, %v", out, err)
	}
	in.Close()
	said, _ := r.ReadString('\n')
	if werr := run.Wait(); werr == nil || said != "" {
		t.Errorf("the run outlived its wipe: said %q, %v", said, werr)
	}
}

// startTime is field 22 of /proc/PID/stat.
func startTime(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	n, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatalf("stat of %d: %q", pid, s)
	}
	return n
}

// TestWipeReusedPid: the kernel reuses pids too, also for another run's
// unshare; a wipe (or a stop) that comes late must not kill an unshare
// that has the run's pid but not its start time, whether it knows the
// run's namespace or not.
func TestWipeReusedPid(t *testing.T) {
	other, in, r, ns := nsProcess(t) // another run's unshare, alive
	start := startTime(t, other.Process.Pid)
	for _, c := range []struct{ name, cmd string }{
		{"wipe with the namespace", wipeCommand(t.TempDir()+"/run", other.Process.Pid, start-1, ns)},
		{"wipe without it", wipeCommand(t.TempDir()+"/run", other.Process.Pid, start-1, "")},
		{"stop", killUnshareCommand(other.Process.Pid, start+1)},
	} {
		if out, err := exec.Command("/bin/sh", "-c", c.cmd).CombinedOutput(); err != nil && c.name != "stop" {
			t.Errorf("%s: %q, %v", c.name, out, err)
		}
	}
	in.Close()
	said, _ := r.ReadString('\n')
	if werr := other.Wait(); said != "alive\n" || werr != nil {
		t.Fatalf("a wipe of a pid now another process's killed it: said %q, %v (namespace %s)", said, werr, ns)
	}
}
