//go:build linux

package ctrinit

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// What the init read in Pods of .ci/kube-up.sh's cluster (2026-12-05):
// under gVisor (RuntimeClass gvisor, runsc network=none) and runc.
const (
	gvisorStatus = "Name:\tpython3\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nSeccomp:\t2\n"
	runcStatus   = "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n"
	gvisorMounts = "29 29 0:15 / / ro  - 9p none ro,trans=fd,rfdno=51,wfdno=51,aname=/,cache=fscache,overlayfs_stale_read\n34 29 0:19 / /work rw  - 9p none rw,trans=fd,rfdno=52,wfdno=52,aname=/,cache=fscache\n"
	runcMounts   = "229 193 0:61 / / ro,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n244 229 0:73 / /work rw,relatime - tmpfs tmpfs rw,size=524288k,noswap\n"
	netHead      = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	loDev        = "    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n"
	eth0Dev      = "  eth0:     666       7    0    0    0     0          0         0      542       7    0    0    0     0       0          0\n"
)

func TestStatusUnmet(t *testing.T) {
	for _, tt := range []struct {
		name, status string
		user, caps   bool // want a why
	}{
		{"gvisor", gvisorStatus, false, false},
		{"runc", runcStatus, false, false},
		{"root", strings.Replace(runcStatus, "Uid:\t1000\t1000\t1000\t1000", "Uid:\t1000\t0\t1000\t1000", 1), true, false},
		{"root group", strings.Replace(runcStatus, "Gid:\t1000\t1000", "Gid:\t0\t1000", 1), true, false},
		{"a capability", strings.Replace(runcStatus, "CapBnd:\t0000000000000000", "CapBnd:\t0000000000000400", 1), false, true},
		{"ambient", strings.Replace(runcStatus, "CapAmb:\t0000000000000000", "CapAmb:\t0000000000000001", 1), false, true},
		{"no CapEff", strings.Replace(runcStatus, "CapEff:", "Cap_Eff:", 1), false, true},
		{"garbage", strings.Replace(runcStatus, "CapPrm:\t0000000000000000", "CapPrm:\tzz", 1), false, true},
		{"nothing", "", true, true},
	} {
		user, caps := statusUnmet([]byte(tt.status))
		if (user != "") != tt.user || (caps != "") != tt.caps {
			t.Errorf("%s: user %q, caps %q", tt.name, user, caps)
		}
	}
}

func TestRootUnmet(t *testing.T) {
	for _, tt := range []struct {
		name, mountinfo string
		statfsRO, want  bool
	}{
		{"gvisor", gvisorMounts, false, false},
		{"runc", runcMounts, true, false},
		{"runc, mountinfo only", runcMounts, false, false},
		{"writable", strings.Replace(runcMounts, "/ / ro,relatime", "/ / rw,relatime", 1), false, true},
		{"a writable mount over a read-only one", gvisorMounts + "40 29 0:20 / / rw - tmpfs none rw\n", false, true},
		{"ro only in the super options", "1 1 0:1 / / rw - ext4 /dev/sda ro\n", false, true},
		{"nothing", "", false, true},
	} {
		if got := rootUnmet([]byte(tt.mountinfo), tt.statfsRO); (got != "") != tt.want {
			t.Errorf("%s: %q", tt.name, got)
		}
	}
}

func TestNetUnmet(t *testing.T) {
	for _, tt := range []struct {
		name, dev string
		want      string
	}{
		{"gvisor network=none", netHead + loDev, ""},
		{"runc", netHead + loDev + eth0Dev, `"eth0"`},
		{"no loopback either", netHead, ""},
		{"unreadable", "", "cannot be read"},
		{"a name with an escape", netHead + "\x1b[2J:  0 0\n", `"\x1b[2J"`},
	} {
		if got := netUnmet([]byte(tt.dev)); tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q in it", tt.name, got, tt.want)
		}
	}
}

func TestSizeUnmet(t *testing.T) {
	for _, tt := range []struct {
		name          string
		blocks        uint64
		frsize, bsize int64
		limit         int64
		want          bool
	}{
		{"the Pod's volume", 32768, 4096, 4096, 128 << 20, false},
		{"gVisor's own tmpfs (2^63-4096 bytes)", 1<<51 - 1, 4096, 4096, 128 << 20, true},
		{"overflows", 1 << 62, 4096, 4096, 128 << 20, true},
		{"no frsize", 32768, 0, 4096, 128 << 20, false},
		{"no block size", 32768, 0, 0, 128 << 20, true},
	} {
		if got := sizeUnmet("/dev/shm", tt.blocks, tt.frsize, tt.bsize, tt.limit); (got != "") != tt.want {
			t.Errorf("%s: %q", tt.name, got)
		}
	}
}

// TestExpectHere checks this process, which runs as root on a host with a
// writable root and a network, against a Pod's expectations: every check
// fails. A tmpfs of 1 MiB passes a limit of 1 MiB and fails one of half
// that. bootstrap.py's checks (the Python init's) find the same.
func TestExpectHere(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: it mounts a tmpfs, and expects the checks of a non-root user to fail")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil || st.Flags&unix.ST_RDONLY != 0 {
		t.Skipf("the root here is read-only (%v)", err)
	}
	b, _ := os.ReadFile("/proc/self/net/dev")
	if netUnmet(b) == "" {
		t.Skip("this host has no network interface but lo")
	}
	all := &Expect{Sized: map[string]int64{dir: 1 << 20, "/dev/shm": 1 << 20}, LoopbackOnly: true, NonRoot: true, NoCapabilities: true, ReadOnlyRoot: true}
	half := &Expect{Sized: map[string]int64{dir: 512 << 10}}
	for _, tt := range []struct {
		e    *Expect
		want []string
	}{
		{all, []string{"disk", "user", "capabilities", "read-only-rootfs", "network"}},
		{half, []string{"disk"}},
		{&Expect{Sized: map[string]int64{dir: 1 << 20}}, nil},
	} {
		var got []string
		for _, u := range tt.e.check() {
			got = append(got, u.Layer)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Go init, %+v: unmet %q, want %q", tt.e, got, tt.want)
		}
		if py := bootstrapUnmet(t, tt.e); !slices.Equal(py, tt.want) {
			t.Errorf("bootstrap.py, %+v: unmet %q, want %q", tt.e, py, tt.want)
		}
	}
}

// bootstrapUnmet runs bootstrap.py's expect_unmet on e in this process's
// place and returns the layers it names.
func bootstrapUnmet(t *testing.T, e *Expect) []string {
	t.Helper()
	src, err := os.ReadFile("../container/bootstrap.py")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	i, j := strings.Index(s, "\ndef readtext("), strings.Index(s, "\nCONF = confinement()")
	if i < 0 || j < i {
		t.Fatal("bootstrap.py has no expect_unmet before CONF")
	}
	arg, _ := json.Marshal(e)
	code := "import json, os, sys\nfrom json import dumps as jstr\n" + s[i:j] + "\nprint(json.dumps([u['layer'] for u in expect_unmet(json.loads(sys.argv[1]))]))\n"
	out, err := exec.Command("python3", "-I", "-S", "-c", code, string(arg)).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var layers []string
	if err := json.Unmarshal(out, &layers); err != nil {
		t.Fatalf("python3 said %q: %v", out, err)
	}
	return layers
}
