package ssh

import (
	"bufio"
	"io"
	"os/exec"
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
		out, err := exec.Command("/bin/sh", "-c", wipeCommand(t.TempDir()+"/run", 0, old)).CombinedOutput()
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
	out, err := exec.Command("/bin/sh", "-c", wipeCommand(t.TempDir()+"/run", run.Process.Pid, ns)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "left=0" {
		t.Errorf("wipe: %q, %v", out, err)
	}
	in.Close()
	said, _ := r.ReadString('\n')
	if werr := run.Wait(); werr == nil || said != "" {
		t.Errorf("the run outlived its wipe: said %q, %v", said, werr)
	}
}
