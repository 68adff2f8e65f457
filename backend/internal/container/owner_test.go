package container

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// TestOwner: this process's owner value is alive; a process that ended,
// a pid with another start time, another boot and a malformed value are
// not (the last two not judged at all).
func TestOwner(t *testing.T) {
	me := Owner()
	if me == "" {
		t.Skip("no /proc/sys/kernel/random/boot_id or /proc/self/stat")
	}
	if alive, known := OwnerAlive(me); !alive || !known {
		t.Errorf("this process %q: alive %v known %v", me, alive, known)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	// the pid of a process that ended, with this process's start time,
	// and this pid with another start time
	dead := bootID() + "/" + strconv.Itoa(cmd.Process.Pid) + "/1"
	other := bootID() + "/" + strconv.Itoa(os.Getpid()) + "/1"
	for _, v := range []string{dead, other} {
		if alive, known := OwnerAlive(v); alive || !known {
			t.Errorf("%q: alive %v known %v", v, alive, known)
		}
	}
	for _, v := range []string{"00000000-0000-0000-0000-000000000000/1/1", "", "x/y", bootID() + "/x/1"} {
		if alive, known := OwnerAlive(v); alive || known {
			t.Errorf("%q: alive %v known %v", v, alive, known)
		}
	}
}
