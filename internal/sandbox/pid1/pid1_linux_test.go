package pid1

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const roleEnv = "MOAT_PID1_TEST_ROLE"

// The init and the sender of TestBlockedSignal are this test binary again.
func init() {
	switch os.Getenv(roleEnv) {
	case "init":
		runtime.LockOSThread() // the main thread: the one kill(1) signals
		os.Exit(testInit())
	case "defaults":
		os.Exit(testDefaults())
	case "send":
		sig, _ := strconv.Atoi(os.Getenv("SIG"))
		if err := unix.Kill(1, unix.Signal(sig)); err != nil {
			fmt.Fprintln(os.Stderr, "send:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// testInit is pid 1 of a new pid namespace set up as nsinit is (every
// signal notified), with IgnoreDefaults unless NOFIX is set; its main
// thread blocks the signal, as Go's runtime does for a moment while it
// forks, starts a thread or runs a handler, and a process of the
// namespace sends it to pid 1.
func testInit() int {
	signal.Notify(make(chan os.Signal, 1))
	if os.Getenv("NOFIX") == "" {
		if _, err := IgnoreDefaults(); err != nil {
			fmt.Fprintln(os.Stderr, "init:", err)
			return 2
		}
	}
	for i := 0; i < 3; i++ { // threads that leave the signal unblocked
		go func() { runtime.LockOSThread(); time.Sleep(time.Hour) }()
	}
	sig, _ := strconv.Atoi(os.Getenv("SIG"))
	var set unix.Sigset_t
	set.Val[(sig-1)/64] |= 1 << ((sig - 1) % 64)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		fmt.Fprintln(os.Stderr, "init: block:", err)
		return 2
	}
	send := exec.Command("/proc/self/exe")
	send.Env = []string{roleEnv + "=send", "SIG=" + strconv.Itoa(sig)}
	send.Stderr = os.Stderr
	if err := send.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "init: sender:", err)
		return 2
	}
	// A signal that was not dropped has now either been queued (and is
	// dropped when unblocked) or has started the init's group exit.
	if err := unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil); err != nil {
		return 2
	}
	return 0
}

// TestBlockedSignal: a signal that Go's runtime leaves at its default,
// sent to a namespace's init from inside while the init's main thread has
// it blocked, does not kill the init. Without IgnoreDefaults, Linux 6.1
// (Debian bookworm's, the CI's cgroup-v2 guest) kills it with signal 34;
// later kernels drop the signal either way.
func TestBlockedSignal(t *testing.T) {
	for _, sig := range []int{32, 34} {
		t.Run(strconv.Itoa(sig), func(t *testing.T) {
			cmd := exec.Command("/proc/self/exe")
			cmd.Env = []string{roleEnv + "=init", "SIG=" + strconv.Itoa(sig)}
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
			if os.Geteuid() != 0 {
				cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
				cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
				cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
			}
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("the init ended with %v: %s", ee.ProcessState, out)
			}
			if err != nil {
				t.Skipf("no new pid namespace here: %v", err)
			}
		})
	}
}

// TestIgnoreDefaults: afterwards no signal but KILL, STOP and CHLD is at
// its default action (in a child: it changes the whole process).
func TestIgnoreDefaults(t *testing.T) {
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = []string{roleEnv + "=defaults"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

func testDefaults() int {
	if _, err := IgnoreDefaults(); err != nil {
		fmt.Println(err)
		return 1
	}
	rc := 0
	for sig := 1; sig <= 64; sig++ {
		var old sigaction
		if err := rtSigaction(sig, nil, &old); err != nil {
			fmt.Println(err)
			return 1
		}
		keep := sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) || sig == int(unix.SIGCHLD)
		if old.handler == sigDFL && !keep {
			fmt.Printf("signal %d is still at its default action\n", sig)
			rc = 1
		}
	}
	return rc
}
