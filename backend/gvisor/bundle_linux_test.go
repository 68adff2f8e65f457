package gvisor

import (
	"slices"
	"testing"
)

func TestOCISpec(t *testing.T) {
	s := ociSpec(bundleConfig{Argv: []string{"/usr/bin/python3", "-c", "pass"}, Binds: []string{"/usr/lib/python3.11", "/usr/bin/python3"},
		Scratch: "/run/moat/gvisor/x/scratch", CgroupsPath: "/moat/x", Disk: 1 << 20, Pids: 8})
	if !s.Root.Readonly || s.Process.User.UID != sandboxID || s.Process.User.GID != sandboxID || !s.Process.NoNewPrivileges {
		t.Errorf("root %+v user %+v nnp %v", s.Root, s.Process.User, s.Process.NoNewPrivileges)
	}
	c := s.Process.Capabilities
	if len(c.Bounding)+len(c.Effective)+len(c.Permitted)+len(c.Inheritable)+len(c.Ambient) != 0 {
		t.Errorf("capabilities %+v", c)
	}
	rw := map[string]bool{}
	for _, m := range s.Mounts {
		if m.Type != "bind" {
			continue
		}
		if slices.Contains(m.Options, "rw") {
			rw[m.Destination] = true
			if m.Source != "/run/moat/gvisor/x/scratch/"+map[string]string{"/work": "work", "/tmp": "tmp", "/home/sandbox": "home", "/dev/shm": "shm"}[m.Destination] {
				t.Errorf("writable bind %s from %s", m.Destination, m.Source)
			}
		} else if !slices.Contains(m.Options, "ro") || m.Source != m.Destination {
			t.Errorf("bind %+v is not a read-only bind of the same path", m)
		}
	}
	if len(rw) != 4 {
		t.Errorf("writable binds %v, want the four scratch directories", rw)
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
	for _, n := range []string{"clone", "ioctl", "personality", "read"} {
		if denied[n] {
			t.Errorf("%s is denied whatever its arguments", n)
		}
	}
}
