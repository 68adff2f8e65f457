package ctrinit

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startHelperEnv makes the test binary the start helper below.
const startHelperEnv = "MOAT_CTRINIT_START_HELPER"

// TestStartHelper is not a test: in the subprocess of
// TestStartUnderOneP it starts /bin/sh under the guard as the init does
// and prints the program's exit status.
func TestStartHelper(t *testing.T) {
	if os.Getenv(startHelperEnv) != "1" {
		t.Skip("the subprocess of TestStartUnderOneP")
	}
	in := &initProc{h: &Header{Guard: true}}
	cmd := &exec.Cmd{Args: []string{"sh", "-c", "exit 7"}, Env: []string{"PATH=/usr/bin:/bin"}, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := in.startProgram(cmd, "/bin/sh"); err != nil {
		t.Fatal(err)
	}
	st, err := cmd.Process.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if in.execs == nil || in.execsOff != "" {
		t.Fatalf("not guarded: %q", in.execsOff)
	}
	os.Stdout.WriteString("exit " + st.String() + "\n")
}

// TestStartUnderOneP: the init serves the seccomp listener of the program
// it starts. Go starts a process with vfork, whose caller keeps its P,
// not preemptible, until the child's execve returns; that execve waits
// for the listener's answer. With the listener served by the init itself,
// the answer needs a P of its own: with GOMAXPROCS=1 there is none, and
// with more a stop-the-world pending at that moment waits for the
// vforking P (attrs' venv and install phases on docker hung so until
// their timeout, with no output). Under one P the start must still end.
func TestStartUnderOneP(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, exe, "-test.run=^TestStartHelper$", "-test.v")
		cmd.Env = append(os.Environ(), startHelperEnv+"=1", "GOMAXPROCS=1")
		// A deadlocked helper's vfork child keeps the listener, and the
		// output: the whole group goes.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		cancel()
		if ctx.Err() == context.DeadlineExceeded {
			t.Fatalf("run %d: the start did not end in 20 s (deadlock): %.500q", i, out)
		}
		if err != nil || !strings.Contains(string(out), "exit exit status 7") {
			t.Fatalf("run %d: err %v, output %.800q", i, err, out)
		}
	}
}
