package seccomp

import (
	"cmp"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestExecCheck runs real execs (a shell that execs a file when told)
// and checks what ExecCheck confirms: the file read, unchanged, is
// confirmed; another file, or the one read rewritten in place before the
// exec, is what ran (Swapped); an exec whose file could not be read is
// what ran (not Swapped); a failed exec is nothing. Each is judged at a
// call of the process (Confirm) and from outside while it runs (Sweep,
// which leaves an exec not done to the process's next call, and drops
// one whose process is gone).
func TestExecCheck(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep on PATH")
	}
	dir := t.TempDir()
	cp := func(name, from string) string {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	target := cp("tool", sleep)
	decoy := cp("decoy", sleep)
	shell, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	wait := filepath.Join(dir, "wait.sh")
	if err := os.WriteFile(wait, []byte("read z\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		read    string             // the file the witness reads ("": none)
		before  func(t *testing.T) // between the read and the exec
		runs    string             // what the shell execs ("": nothing)
		arg     string             // what it runs with (sleep's 30 if "")
		ran     bool
		swapped bool
	}{
		{name: "confirmed", read: target, runs: target},
		{name: "another file", read: decoy, runs: target, ran: true, swapped: true},
		{name: "rewritten in place", read: target, runs: target, ran: true, swapped: true, before: func(t *testing.T) {
			f, err := os.OpenFile(target, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// Grown past its end: a new version, which still runs.
			if _, err := f.WriteAt([]byte{0}, 1<<20); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "unread", runs: target, ran: true},
		{name: "failed", read: target},
		// The caller's own program again (the shell, waiting on its
		// input), while the witness read a decoy: not a failed exec.
		{name: "the one before, again", read: decoy, runs: shell, arg: wait, ran: true, swapped: true},
	} {
		for _, sweep := range []bool{false, true} {
			name := c.name
			if sweep {
				name += ", swept"
			}
			t.Run(name, func(t *testing.T) {
				cmd := exec.Command("/bin/sh", "-c", `read x; [ -n "$1" ] && exec "$1" $2; read y`, "sh", c.runs, cmp.Or(c.arg, "30"))
				in, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer func() { cmd.Process.Kill(); cmd.Wait() }()
				pid := cmd.Process.Pid
				before, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
				var check ExecCheck
				var f *os.File
				if c.read != "" {
					if f, err = os.Open(c.read); err != nil {
						t.Fatal(err)
					}
					defer f.Close()
				}
				check.Expect(pid, "the name", f)
				if check.Pending() != 1 {
					t.Fatalf("Pending = %d after Expect", check.Pending())
				}
				if c.before != nil {
					c.before(t)
				}
				io.WriteString(in, "go\n")
				// Until the exec is done (or, for none, a while).
				for i := 0; i < 200; i++ {
					if now, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); now != before {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				var r Ran
				var ok bool
				if !sweep {
					r, ok = check.Confirm(pid)
				} else {
					var rs []Ran
					if rs = check.Sweep(); len(rs) > 1 {
						t.Fatalf("Sweep = %+v: more than one", rs)
					}
					if ok = len(rs) == 1; ok {
						r = rs[0]
					}
					if !ok && check.Pending() == 1 {
						// Not done (failed, or ran what was read in place of the
						// one before?): left until the process is gone.
						cmd.Process.Kill()
						cmd.Wait()
						if rs := check.Sweep(); len(rs) != 0 {
							t.Fatalf("Sweep of a dead process = %+v", rs)
						}
					}
				}
				if ok {
					defer r.File.Close()
				}
				if ok != c.ran || ok && (r.Swapped != c.swapped || r.Path != c.runs || r.PID != pid || r.Name != "the name") {
					t.Fatalf("Confirm = %+v, %v; want ran %v swapped %v of %s", r, ok, c.ran, c.swapped, c.runs)
				}
				if check.Pending() != 0 {
					t.Errorf("Pending = %d after Confirm", check.Pending())
				}
			})
		}
	}
}

// TestExecCheckSibling: a call of another thread of the process while
// its exec is pending leaves the check to the exec's own thread (red
// team, session 25: a sibling's tgkill made as the kernel switched
// programs took the check for a failed exec, and the swap went unseen);
// the exec's own thread's call, the exe unchanged, ends it as failed.
func TestExecCheckSibling(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tid := unix.Gettid()
	var c ExecCheck
	c.Expect(tid, self, f)
	if c.Pending() != 1 {
		t.Fatalf("pending %d after Expect, want 1", c.Pending())
	}
	other, done := make(chan int), make(chan struct{})
	defer close(done)
	go func() {
		runtime.LockOSThread()
		other <- unix.Gettid()
		<-done
	}()
	sib := <-other
	if sib == tid {
		t.Fatal("the sibling runs on the same thread")
	}
	if _, ok := c.Confirm(sib); ok || c.Pending() != 1 {
		t.Fatalf("a sibling's call: ran %v, pending %d; want the check left (1)", ok, c.Pending())
	}
	if _, ok := c.Confirm(tid); ok || c.Pending() != 0 {
		t.Fatalf("the exec's own thread: ran %v, pending %d; want a failed exec, dropped", ok, c.Pending())
	}
}
