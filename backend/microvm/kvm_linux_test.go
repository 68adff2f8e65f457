package microvm

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestQEMUKVMDenied: moat, as root, starts QEMU as a uid of its own with
// /dev/kvm's group alone, so a device moat opens may still be closed to
// QEMU (a machine with no udev leaves it 0600 root:root).
func TestQEMUKVMDenied(t *testing.T) {
	for _, c := range []struct {
		mode   uint32
		root   bool
		denied bool
	}{
		{0o20600, true, true},
		{0o20640, true, true},
		{0o20660, true, false},
		{0o20666, true, false},
		{0o20606, true, false},
		{0o20600, false, false}, // QEMU runs as moat's own uid, which opened it
	} {
		if got := qemuKVMDenied(c.mode, c.root); (got != "") != c.denied {
			t.Errorf("mode %o root %v: %q, want denied %v", c.mode, c.root, got, c.denied)
		}
	}
}

// TestKVMAsQEMU: the accelerator moat picks is one QEMU can use, checked
// against the real device: when moat says kvm, a process with QEMU's
// credential opens /dev/kvm.
func TestKVMAsQEMU(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: QEMU gets a uid of its own only when moat is root")
	}
	var st unix.Stat_t
	if err := unix.Stat("/dev/kvm", &st); err != nil {
		t.Skipf("no /dev/kvm: %v", err)
	}
	cred, err := qemuCredential("kvm")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", "exec 3<>/dev/kvm")
	cmd.SysProcAttr = &unix.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	opens := err == nil
	denied := qemuKVMDenied(st.Mode, true)
	if opens == (denied != "") {
		t.Fatalf("/dev/kvm mode %o: QEMU's credential opens it: %v (%s); qemuKVMDenied says %q", st.Mode&0o7777, opens, strings.TrimSpace(string(out)), denied)
	}
}
