package timens

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const childEnv = "TIMENS_TEST_CHILD"

func init() {
	if os.Getenv(childEnv) != "" {
		runtime.LockOSThread() // the main thread, as the inits call Ahead
	}
}

// TestMain, as the child: Ahead by $TIMENS_TEST_CHILD seconds, then
// what a program started after it reads of the machine's age.
func TestMain(m *testing.M) {
	if s := os.Getenv(childEnv); s != "" {
		n, _ := strconv.Atoi(s)
		// On a thread of its own, not the main one (the micro-VM's agent
		// may not be on it).
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			child(n)
			close(done)
		}()
		<-done
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// forkingEnv makes the child use AheadForking and start its program in a
// user namespace (a fork, not a vfork), as the micro-VM's agent does.
const forkingEnv = "TIMENS_TEST_FORKING"

func child(n int) {
	{
		ahead := Ahead
		if os.Getenv(forkingEnv) != "" {
			ahead = AheadForking
		}
		if err := ahead(time.Duration(n) * time.Second); err != nil {
			os.Stdout.WriteString("error: " + err.Error())
			return
		}
		// exec.Cmd forks with CLONE_VM|CLONE_VFORK: the child enters the
		// namespace at its exec. With a user namespace it forks.
		cmd := exec.Command("/bin/sh", "-c", "cat /proc/uptime; grep '^btime ' /proc/stat; cut -d' ' -f22 /proc/self/stat")
		if os.Getenv(forkingEnv) != "" {
			id := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, UidMappings: id, GidMappings: id}
		}
		out, err := cmd.Output()
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error())
		}
		os.Stdout.Write(out)
	}
}

func uptime(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return v
}

// TestAhead: a program started after Ahead(d) sees an uptime d longer,
// a boot time d earlier and its own start time d later, all agreeing.
func TestAhead(t *testing.T) { testAhead(t, "") }

// TestAheadForking: as TestAhead, the program forked in a user namespace
// after AheadForking (the micro-VM's agent on a kernel that refuses the
// vfork).
func TestAheadForking(t *testing.T) { testAhead(t, forkingEnv+"=1") }

func testAhead(t *testing.T, env string) {
	const ahead = 3 * 86400
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(ahead))
	if env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	before := uptime(t)
	out, err := cmd.Output()
	after := uptime(t)
	if err != nil {
		t.Skipf("no user namespace for the test: %v", err)
	}
	s := string(out)
	if strings.HasPrefix(s, "error: ") {
		if strings.Contains(s, ErrUnsupported.Error()) {
			t.Skip(s)
		}
		t.Fatal(s)
	}
	f := strings.Fields(s)
	if len(f) != 5 || f[2] != "btime" {
		t.Fatalf("child: %q", s)
	}
	up, _ := strconv.ParseFloat(f[0], 64)
	btime, _ := strconv.ParseInt(f[3], 10, 64)
	start, _ := strconv.ParseInt(f[4], 10, 64)
	if up < before+ahead || up > after+ahead+1 {
		t.Errorf("uptime %.2f, want %d more than the host's %.2f..%.2f", up, ahead, before, after)
	}
	// btime is now minus the uptime, to the second.
	if d := time.Now().Unix() - int64(up) - btime; d < -2 || d > 60 {
		t.Errorf("btime %d is %d s off now minus the uptime %.2f", btime, d, up)
	}
	// The process's start (clock ticks since boot) is within its uptime.
	if st := float64(start) / 100; st > up+1 || st < before+ahead-1 {
		t.Errorf("start time %.2f s after boot, uptime %.2f", st, up)
	}
}

func TestAheadRefusesNone(t *testing.T) {
	if err := Ahead(0); err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("Ahead(0): %v", err)
	}
}
