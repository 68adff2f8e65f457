package podman

import (
	"bufio"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Rootless podman mounts each container's root with fuse-overlayfs when its
// storage says so (mount_program), and fuse-overlayfs opens /dev/fuse as the
// rootless user. A distribution's udev makes /dev/fuse mode 0666; a machine
// without udev (a fresh VM, a container host built by hand) leaves it 0600
// root:root, and every rootless run then fails deep inside podman ("Unmounting
// .../merged: invalid argument", exit 126). devProblem finds that state up
// front and says in one line what is wrong and how to fix it.
//
// Only what a run of moat's needs is checked: runs have no network, so the
// tun device that slirp4netns and pasta open is not required.

// fuseDevice is the device fuse-overlayfs opens; a variable for tests.
var fuseDevice = "/dev/fuse"

// usesFuse says whether the rootless storage of the user whose home and
// config directory are given mounts through a FUSE program: the first
// storage.conf found (the user's own, then the system's, as podman reads
// them) names a mount_program.
func usesFuse(configHome string) bool {
	for _, p := range []string{
		filepath.Join(configHome, "containers", "storage.conf"),
		"/etc/containers/storage.conf",
		"/usr/share/containers/storage.conf",
	} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "mount_program" {
				v = strings.Trim(strings.TrimSpace(v), `"'`)
				if v != "" {
					return true
				}
			}
		}
		return false
	}
	return false
}

// canReadWrite says whether uid (with primary gid and groups) may open the
// file at fi for reading and writing by its mode bits. Root is not asked
// about: this is for the rootless user.
func canReadWrite(fi os.FileInfo, uid, gid uint32, groups []uint32) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true // cannot tell; let podman say
	}
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == uid:
		return perm&0o600 == 0o600
	case st.Gid == gid || contains(groups, st.Gid):
		return perm&0o060 == 0o060
	default:
		return perm&0o006 == 0o006
	}
}

func contains(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// devProblem returns a one-line diagnosis when rootless podman in mode m
// cannot work because of a device's mode, or "".
func (m *mode) devProblem() string {
	if !m.rootless {
		return ""
	}
	uid, gid, groups, name, home := m.identity()
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if m.cred != nil || cfg == "" {
		cfg = filepath.Join(home, ".config")
	}
	if !usesFuse(cfg) {
		return ""
	}
	fi, err := os.Stat(fuseDevice)
	if err != nil {
		return fmt.Sprintf("rootless podman's storage mounts with fuse-overlayfs but %s is missing (modprobe fuse)", fuseDevice)
	}
	if canReadWrite(fi, uid, gid, groups) {
		return ""
	}
	owner := ""
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = fmt.Sprintf(" (owner %d:%d)", st.Uid, st.Gid)
	}
	return fmt.Sprintf("rootless podman's storage mounts with fuse-overlayfs, but %s is mode %04o%s, which user %s (uid %d) cannot open; fix: chmod 0666 %s (what udev sets on a distribution)",
		fuseDevice, fi.Mode().Perm(), owner, name, uid, fuseDevice)
}

// identity is the user podman runs as in mode m.
func (m *mode) identity() (uid, gid uint32, groups []uint32, name, home string) {
	if m.cred != nil {
		uid, gid = m.cred.Uid, m.cred.Gid
		home = m.dir
	} else {
		uid, gid = uint32(os.Getuid()), uint32(os.Getgid())
		home, _ = os.UserHomeDir()
		if gs, err := os.Getgroups(); err == nil {
			for _, g := range gs {
				groups = append(groups, uint32(g))
			}
		}
	}
	name = strconv.Itoa(int(uid))
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
		if m.cred != nil {
			if ids, err := u.GroupIds(); err == nil {
				for _, s := range ids {
					if g, err := strconv.Atoi(s); err == nil {
						groups = append(groups, uint32(g))
					}
				}
			}
		}
	}
	return uid, gid, groups, name, home
}
