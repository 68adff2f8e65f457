//go:build linux

package osthread

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestNeverMain: f never runs on the main thread, where the scheduler
// puts many a new goroutine while the test's main goroutine waits.
func TestNeverMain(t *testing.T) {
	for i := 0; i < 2000; i++ {
		tid := make(chan int, 1)
		Go(func() { tid <- unix.Gettid() })
		if <-tid == unix.Getpid() {
			t.Fatal("f ran on the main thread")
		}
	}
}

// TestStartOutlivesCaller: a process started by Start with a
// parent-death signal, from a goroutine whose thread then ends (a
// function given to Go), lives on: its parent thread is the spawner's.
func TestStartOutlivesCaller(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	cmd := exec.Command(sleep, "120")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	type started struct {
		tid int
		err error
	}
	ch := make(chan started, 1)
	Go(func() { ch <- started{unix.Gettid(), Start(cmd)} })
	s := <-ch
	if s.err != nil {
		t.Fatal(s.err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// The caller's thread ends once its function has returned; the
	// kernel has sent its children their signal before its /proc entry
	// goes.
	task := fmt.Sprintf("/proc/self/task/%d", s.tid)
	for i := 0; i < 10000; i++ {
		if _, err := os.Stat(task); err != nil {
			break
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	if _, err := os.Stat(task); err == nil {
		t.Fatalf("the caller's thread %d did not end", s.tid)
	}
	var ws unix.WaitStatus
	if pid, err := unix.Wait4(cmd.Process.Pid, &ws, unix.WNOHANG, nil); err != nil || pid != 0 {
		t.Fatalf("the process ended with its caller's thread: wait4 %d %v, %v", pid, err, ws)
	}
}
