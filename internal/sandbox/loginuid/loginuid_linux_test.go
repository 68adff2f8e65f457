package loginuid

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestSet: in a child whose login uid is unset, Set makes it the given
// uid, and a process the thread starts reads it back from
// /proc/self/loginuid, as getlogin() does. The child is this test binary
// again, so the test runner's own login uid is never touched.
func TestSet(t *testing.T) {
	if os.Getenv("LOGINUID_CHILD") == "1" {
		runtime.LockOSThread()
		if err := Set(4242); err != nil {
			os.Stdout.WriteString("set: " + err.Error())
			os.Exit(0)
		}
		out, err := exec.Command("cat", "/proc/self/loginuid").CombinedOutput()
		if err != nil {
			os.Stdout.WriteString("cat: " + err.Error())
		}
		os.Stdout.Write(out)
		os.Exit(0)
	}
	b, err := os.ReadFile("/proc/self/loginuid")
	if err != nil {
		t.Skipf("no /proc/self/loginuid (a kernel without audit): %v", err)
	}
	if strings.TrimSpace(string(b)) != unset {
		t.Skipf("this test's login uid is set (%s): run it outside a login session", strings.TrimSpace(string(b)))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSet$")
	cmd.Env = append(os.Environ(), "LOGINUID_CHILD=1")
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "4242" {
		t.Fatalf("the child's child read %q (%v), want 4242", out, err)
	}
}
