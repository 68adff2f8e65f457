//go:build linux

package seccomp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// DirName names the directory dir (a notified caller's /proc/PID/cwd or
// fd link) that the kernel will not (past PATH_MAX) by walking up from it, as getcwd(3)
// does but linearly: each parent is opened from the one below (".."
// is never a link), the child found among its entries by inode (or by
// stat, for a mount point), until root (the caller's /proc/PID/root): a
// name inside the sandbox, never above its root. Everything read is the
// sandbox's, so the walk is bounded: 8,192 levels, 64 KiB of name,
// 2^18 entries read.
func DirName(dir, root string) (string, error) {
	var rst unix.Stat_t
	if err := unix.Stat(root, &rst); err != nil {
		return "", err
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer func() { unix.Close(fd) }()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	var names []string
	size, budget := 0, 1<<18
	buf := make([]byte, 32<<10)
	for range 8192 {
		if st.Dev == rst.Dev && st.Ino == rst.Ino {
			slices.Reverse(names)
			return "/" + strings.Join(names, "/"), nil
		}
		up, err := unix.Openat(fd, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			return "", err
		}
		unix.Close(fd)
		fd = up
		var pst unix.Stat_t
		if err := unix.Fstat(fd, &pst); err != nil {
			return "", err
		}
		if pst.Dev == st.Dev && pst.Ino == st.Ino {
			return "", errors.New("walked to a root that is not the process's")
		}
		name, err := childName(fd, &st, buf, &budget)
		if err != nil {
			return "", err
		}
		names = append(names, name)
		if size += len(name) + 1; size > 64<<10 {
			return "", errors.New("over 64 KiB")
		}
		st = pst
	}
	return "", errors.New("over 8192 levels")
}

// childName finds, in the directory fd, the entry that is st: by inode
// first, then (a mount point's entry has the inode beneath the mount) by
// following each directory entry.
func childName(fd int, st *unix.Stat_t, buf []byte, budget *int) (string, error) {
	for _, byIno := range []bool{true, false} {
		if _, err := unix.Seek(fd, 0, 0); err != nil {
			return "", err
		}
		for {
			n, err := unix.Getdents(fd, buf)
			if err != nil {
				return "", err
			}
			if n <= 0 {
				break
			}
			for b := buf[:n]; len(b) >= 19; {
				ino := binary.NativeEndian.Uint64(b[0:8])
				reclen := int(binary.NativeEndian.Uint16(b[16:18]))
				typ := b[18]
				if reclen < 19 || reclen > len(b) {
					break
				}
				name := b[19:reclen]
				if i := bytes.IndexByte(name, 0); i >= 0 {
					name = name[:i]
				}
				b = b[reclen:]
				if *budget--; *budget < 0 {
					return "", errors.New("over 2^18 entries")
				}
				if s := string(name); s != "." && s != ".." && (byIno && ino == st.Ino || !byIno && (typ == unix.DT_DIR || typ == unix.DT_UNKNOWN)) {
					var cst unix.Stat_t
					flags := 0
					if byIno {
						flags = unix.AT_SYMLINK_NOFOLLOW
					}
					if unix.Fstatat(fd, s, &cst, flags) == nil && cst.Dev == st.Dev && cst.Ino == st.Ino {
						return s, nil
					}
				}
			}
		}
	}
	return "", errors.New("not found in its parent")
}
