package gvisor

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/backend/gvisor/sentryinit"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

func TestOCISpec(t *testing.T) {
	p := observe.Persona{Host: "kim-xps", User: "kim", Home: "/home/kim", Tools: "/opt/tools"}
	s := ociSpec(bundleConfig{Argv: []string{"/usr/bin/python3", "-c", "pass"}, Binds: []string{"/usr/lib/python3.11", "/usr/bin/python3"},
		Scratch: "/run/moat/gvisor/x/scratch", CgroupsPath: "/moat/x", Disk: 1 << 20, Pids: 8, Persona: p, Etc: "/run/moat/gvisor/x/scratch/etc",
		AuditFile: "/run/moat/gvisor/x/scratch/.moat-audit", Hook: "/var/lib/moat/rootfs-x/py", Void: "/var/lib/moat/rootfs-x/void"})
	if s.Hostname != "kim-xps" {
		t.Errorf("hostname %q", s.Hostname)
	}
	// moat's own read-only files: the run's /etc and the hook.
	own := map[string]string{"/etc/passwd": "/run/moat/gvisor/x/scratch/etc/passwd", "/etc/group": "/run/moat/gvisor/x/scratch/etc/group",
		"/etc/hosts": "/run/moat/gvisor/x/scratch/etc/hosts", "/etc/hostname": "/run/moat/gvisor/x/scratch/etc/hostname",
		"/etc/machine-id": "/run/moat/gvisor/x/scratch/etc/machine-id",
		"/opt/tools/py":   "/var/lib/moat/rootfs-x/py", "/home": "/run/moat/gvisor/x/scratch/homes",
		"/dev/fuse": "/var/lib/moat/rootfs-x/void"}
	if !s.Root.Readonly || s.Process.User.UID != sandboxID || s.Process.User.GID != sandboxID || !s.Process.NoNewPrivileges {
		t.Errorf("root %+v user %+v nnp %v", s.Root, s.Process.User, s.Process.NoNewPrivileges)
	}
	c := s.Process.Capabilities
	if len(c.Bounding)+len(c.Effective)+len(c.Permitted)+len(c.Inheritable)+len(c.Ambient) != 0 {
		t.Errorf("capabilities %+v", c)
	}
	rw := map[string]bool{}
	shm := 0
	for _, m := range s.Mounts {
		if m.Destination == "/dev/shm" {
			// The Sentry's own tmpfs: a gofer bind broke semaphores
			// across processes (shmMount).
			shm++
			if m.Type != "tmpfs" || !slices.Contains(m.Options, "size=131072") {
				t.Errorf("/dev/shm %+v, want a tmpfs of an eighth of --disk", m)
			}
			continue
		}
		if m.Type != "bind" {
			continue
		}
		if m.Destination == "/opt/tools/audit" {
			if m.Source != "/run/moat/gvisor/x/scratch/.moat-audit" || !slices.Contains(m.Options, "noexec") {
				t.Errorf("audit channel %+v", m)
			}
			continue
		}
		if slices.Contains(m.Options, "rw") {
			rw[m.Destination] = true
			if m.Source != "/run/moat/gvisor/x/scratch/"+map[string]string{"/work": "work", "/tmp": "tmp", "/home/kim": "home"}[m.Destination] {
				t.Errorf("writable bind %s from %s", m.Destination, m.Source)
			}
		} else if src, ok := own[m.Destination]; ok {
			if src != m.Source || !slices.Contains(m.Options, "ro") {
				t.Errorf("bind %+v is not moat's read-only file", m)
			}
		} else if !slices.Contains(m.Options, "ro") || m.Source != m.Destination {
			t.Errorf("bind %+v is not a read-only bind of the same path", m)
		}
	}
	if len(rw) != 3 || shm != 1 {
		t.Errorf("writable binds %v and %d /dev/shm mounts, want the three scratch directories and one", rw, shm)
	}
	if s.Linux.CgroupsPath != "/moat/x" || s.Linux.Resources != nil {
		t.Errorf("cgroups %q resources %+v: moat's cgroup holds the limits", s.Linux.CgroupsPath, s.Linux.Resources)
	}
	denied := map[string]bool{}
	for _, sc := range s.Linux.Seccomp.Syscalls {
		if len(sc.Args) == 0 {
			for _, n := range sc.Names {
				denied[n] = true
			}
		}
	}
	for _, n := range []string{"ptrace", "unshare", "mount", "bpf", "keyctl", "io_uring_setup", "chroot"} {
		if !denied[n] {
			t.Errorf("%s is not denied unconditionally", n)
		}
	}
	for _, n := range []string{"clone", "ioctl", "personality", "read", "socket", "socketpair"} {
		if denied[n] {
			t.Errorf("%s is denied whatever its arguments", n)
		}
	}
}

// TestOCISpecInit: with moat's init (the report on), pid 1 is root of the
// sandbox with initCaps and an empty bounding set, started as Tools/init
// with the program after it; its walk file is bound read-write, the
// binary read-only.
func TestOCISpecInit(t *testing.T) {
	p := observe.Persona{Host: "kim-xps", User: "kim", Home: "/home/kim", Tools: "/opt/tools"}
	s := ociSpec(bundleConfig{Argv: []string{"/usr/bin/python3", "-c", "pass"}, Env: []string{"A=1"}, Scratch: "/run/moat/gvisor/x/scratch", Disk: 1 << 20, Persona: p,
		Init: "/usr/local/bin/moat", Walk: "/run/moat/gvisor/x/shm/walk"})
	pr := s.Process
	if pr.User.UID != 0 || pr.User.GID != 0 || !pr.NoNewPrivileges || len(pr.Capabilities.Bounding)+len(pr.Capabilities.Ambient)+len(pr.Capabilities.Inheritable) != 0 ||
		!slices.Equal(pr.Capabilities.Permitted, initCaps) || !slices.Equal(pr.Capabilities.Effective, initCaps) {
		t.Errorf("init user %+v nnp %v capabilities %+v", pr.User, pr.NoNewPrivileges, pr.Capabilities)
	}
	if !slices.Equal(pr.Args, []string{"/opt/tools/init", "/usr/bin/python3", "-c", "pass"}) || !slices.Equal(pr.Env, []string{"A=1", sentryinit.Env + "=/opt/tools/walk"}) {
		t.Errorf("args %q env %q", pr.Args, pr.Env)
	}
	var init, walk bool
	for _, m := range s.Mounts {
		switch m.Destination {
		case "/opt/tools/init":
			init = m.Source == "/usr/local/bin/moat" && slices.Contains(m.Options, "ro") && !slices.Contains(m.Options, "rw")
		case "/opt/tools/walk":
			walk = m.Source == "/run/moat/gvisor/x/shm/walk" && slices.Contains(m.Options, "rw") && slices.Contains(m.Options, "noexec")
		}
	}
	if !init || !walk {
		t.Errorf("init bound read-only %v, walk file bound read-write %v: %+v", init, walk, s.Mounts)
	}
}

// ociDenies evaluates a deny-list profile as runsc does: a rule matches
// when its conditions hold, those on the same argument ORed and those on
// different arguments ANDed; any matching rule denies.
func ociDenies(p *specs.LinuxSeccomp, name string, args [6]uint64) (uint, bool) {
	for _, sc := range p.Syscalls {
		if !slices.Contains(sc.Names, name) || sc.Action != specs.ActErrno {
			continue
		}
		byIndex := map[uint][]bool{}
		for _, a := range sc.Args {
			v := args[a.Index]
			var ok bool
			switch a.Op {
			case specs.OpEqualTo:
				ok = v == a.Value
			case specs.OpNotEqual:
				ok = v != a.Value
			case specs.OpGreaterEqual:
				ok = v >= a.Value
			case specs.OpMaskedEqual:
				ok = v&a.Value == a.ValueTwo
			default:
				panic("op " + string(a.Op))
			}
			byIndex[a.Index] = append(byIndex[a.Index], ok)
		}
		match := true
		for _, oks := range byIndex {
			match = match && slices.Contains(oks, true)
		}
		if match {
			return *sc.ErrnoRet, true
		}
	}
	return 0, false
}

// TestSeccompFamilies: the profile refuses exactly the families native's
// filter refuses that the Sentry implements, with EAFNOSUPPORT, and a
// family with high bits set; the Sentry refuses the others itself, after
// its trace (and a family with no rule is one the Sentry lacks).
func TestSeccompFamilies(t *testing.T) {
	p := seccompProfile()
	for fam := uint64(0); fam < 200; fam++ {
		for _, proto := range []uint64{0, unix.NETLINK_SOCK_DIAG, unix.NETLINK_KOBJECT_UEVENT} {
			errno, denied := ociDenies(p, "socket", [6]uint64{fam, unix.SOCK_STREAM, proto})
			// inet's protocols the Sentry answers itself: it has TCP, UDP and ICMP alone
			inet := fam == unix.AF_INET || fam == unix.AF_INET6
			if want := !seccomp.FamilyAllowed(uint32(fam), uint32(proto)) && (sentryFamilies[fam] || fam >= maxFamily) && !inet; denied != want {
				t.Errorf("socket(%s, proto %d): denied %v, want %v", seccomp.FamilyName(uint32(fam)), proto, denied, want)
			}
			if denied && errno != uint(unix.EAFNOSUPPORT) {
				t.Errorf("socket(%d): errno %d", fam, errno)
			}
		}
		_, denied := ociDenies(p, "socketpair", [6]uint64{fam, unix.SOCK_STREAM})
		if denied != (fam != unix.AF_UNIX && (sentryFamilies[fam] || fam >= maxFamily)) {
			t.Errorf("socketpair(%d): denied %v", fam, denied)
		}
	}
	for _, fam := range []uint64{1<<32 | unix.AF_VSOCK, 1<<63 | unix.AF_PACKET} {
		if _, denied := ociDenies(p, "socket", [6]uint64{fam}); !denied {
			t.Errorf("socket(%#x) allowed", fam)
		}
	}
}
