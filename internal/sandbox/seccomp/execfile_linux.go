//go:build linux

package seccomp

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// OpenExec opens for reading the file that an execve(name) or
// execveat(dirfd, name, ..., flags) of the stopped thread tid names, as
// the caller's kernel finds it, for its hash: the file the exec runs,
// whatever its name (so also where the name cannot be had: a working
// directory past PATH_MAX, a directory descriptor, a memfd).
// The caller is the sandbox's: nothing of its is resolved on the
// supervisor's side.
//
//   - execveat(fd, "", AT_EMPTY_PATH) (fexecve: a memfd, a deleted file):
//     the caller's descriptor, reopened through /proc/tid/fd (the
//     kernel's link to the caller's open file, never a path).
//   - An absolute name: beneath the caller's root (/proc/tid/root),
//     every link resolved inside it (RESOLVE_IN_ROOT), no magic link;
//     /proc/self/fd/N and /proc/thread-self/fd/N are the caller's
//     descriptor.
//   - A relative name: from the caller's working directory
//     (/proc/tid/cwd) or execveat's directory descriptor, opened through
//     the kernel's link whatever its length; leading ".." climbed one by
//     one (".." is never a link) and never above the caller's root; the
//     rest resolved beneath that directory (RESOLVE_BENEATH: no absolute
//     link, no "..", no link that leads out, no magic link), so that a
//     link the program planted can only lead to a file of its own tree.
//     A link that would leave it gives an error: no hash, never another
//     file's.
func OpenExec(tid int, dirfd int32, name string, flags uint64) (*os.File, error) {
	proc := "/proc/" + strconv.Itoa(tid) + "/"
	if f, ok, err := openExecFD(proc, dirfd, name, flags); ok {
		return f, err
	}
	if strings.HasPrefix(name, "/") {
		return openInRoot(proc, name)
	}
	var rst unix.Stat_t
	if err := unix.Stat(proc+"root", &rst); err != nil {
		return nil, err
	}
	d, err := unix.Open(execDir(proc, dirfd), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer func() { unix.Close(d) }()
	rest := name
	for hops := 0; ; hops++ {
		if d, rest, err = climb(d, rest, &rst); err != nil {
			return nil, err
		}
		if rest == "" {
			return nil, unix.EISDIR
		}
		fd, err := unix.Openat2(d, rest, &unix.OpenHow{Flags: execMode, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS})
		if err == nil {
			return os.NewFile(uintptr(fd), name), nil
		}
		if err != unix.EXDEV || hops >= 40 {
			return nil, err
		}
		// A link that leads out of the directory (an absolute one, or
		// one with ".."): where it is the last component, followed as
		// the kernel would, inside the caller's root: an absolute one
		// from the root, a relative one from its own directory again.
		parent, base := "", rest
		if i := strings.LastIndexByte(rest, '/'); i >= 0 {
			parent, base = rest[:i], rest[i+1:]
		}
		pd := d
		if parent != "" {
			if pd, err = unix.Openat2(d, parent, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
				Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}); err != nil {
				return nil, err
			}
		}
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(pd, base, buf)
		if pd != d {
			unix.Close(pd)
		}
		if err != nil || n >= len(buf) {
			return nil, unix.EXDEV
		}
		target := string(buf[:n])
		if strings.HasPrefix(target, "/") {
			return openInRoot(proc, target)
		}
		rest = target
		if parent != "" {
			rest = parent + "/" + target
		}
	}
}

// openInRoot opens the absolute name beneath the caller's root
// (proc/root), every link resolved inside it, no magic link.
func openInRoot(proc, name string) (*os.File, error) {
	root, err := unix.Open(proc+"root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, name, &unix.OpenHow{Flags: execMode,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// climb takes the leading "." and ".." of rest off, going up from the
// directory d (closed when replaced) one ".." at a time (".." is never
// a link), never above the root rst (whose ".." is itself).
func climb(d int, rest string, rst *unix.Stat_t) (int, string, error) {
	for range 8192 {
		for strings.HasPrefix(rest, "./") || strings.HasPrefix(rest, "/") {
			rest = rest[1:]
		}
		if rest == "." {
			rest = ""
		}
		if rest != ".." && !strings.HasPrefix(rest, "../") {
			return d, rest, nil
		}
		rest = strings.TrimPrefix(rest[2:], "/")
		var st unix.Stat_t
		if err := unix.Fstat(d, &st); err != nil {
			return d, rest, err
		}
		if st.Dev == rst.Dev && st.Ino == rst.Ino {
			continue // ".." of the root is the root
		}
		up, err := unix.Openat(d, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			return d, rest, err
		}
		unix.Close(d)
		d = up
	}
	return d, rest, unix.ELOOP
}

// OpenExecShared is OpenExec for a supervisor that shares the caller's
// root and mount namespace (the containers' init), where openat2 is not
// to be had (the init's own exec watch notifies it of openat2, which it
// would wait on itself): the name walked one component at a time
// (walkOpen). A plain open would resolve a link into /proc (/dev/fd/N,
// a planted link to /proc/self/cwd/...) against the init's own process,
// not the caller's: another file's hash.
func OpenExecShared(tid int, dirfd int32, name string, flags uint64) (*os.File, error) {
	proc := "/proc/" + strconv.Itoa(tid) + "/"
	if f, ok, err := openExecFD(proc, dirfd, name, flags); ok {
		return f, err
	}
	return walkOpen(proc, execDir(proc, dirfd), name)
}

// execMode opens an executed file for its hash. O_NONBLOCK: a FIFO
// planted under the name does not block the open.
const execMode = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY

// openExecFD opens what an exec names by the caller's own descriptor
// (proc: its /proc directory): execveat(fd, "", AT_EMPTY_PATH), or
// /proc/self/fd/N. ok is false for any other name.
func openExecFD(proc string, dirfd int32, name string, flags uint64) (f *os.File, ok bool, err error) {
	if name == "" {
		if flags&unix.AT_EMPTY_PATH == 0 || dirfd < 0 {
			return nil, true, unix.ENOENT
		}
		f, err = openFile(proc+"fd/"+strconv.Itoa(int(dirfd)), execMode)
		return f, true, err
	}
	if n, ok := selfFD(name); ok {
		f, err = openFile(proc+"fd/"+n, execMode)
		return f, true, err
	}
	return nil, false, nil
}

// execDir is the caller's directory a relative name starts from: its
// working directory, or execveat's directory descriptor.
func execDir(proc string, dirfd int32) string {
	if dirfd != unix.AT_FDCWD {
		return proc + "fd/" + strconv.Itoa(int(dirfd))
	}
	return proc + "cwd"
}

// openFile opens p (a /proc link of the caller's open file) with mode.
func openFile(p string, mode int) (*os.File, error) {
	fd, err := unix.Open(p, mode, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), p), nil
}

// selfFD returns N when p is /proc/self/fd/N or /proc/thread-self/fd/N:
// the caller's descriptor, not the supervisor's. Nothing else under
// /proc/self is opened from the supervisor's /proc (root/, cwd/ and ".."
// would resolve the sandbox's links against the supervisor's root).
func selfFD(p string) (string, bool) {
	for _, self := range []string{"/proc/self/fd/", "/proc/thread-self/fd/"} {
		if n, ok := strings.CutPrefix(p, self); ok && n != "" && len(n) <= 10 && strings.Trim(n, "0123456789") == "" {
			return n, true
		}
	}
	return "", false
}

// ExecMissing: err, from OpenExec, says the exec cannot succeed (no such
// file, a name past what the kernel resolves), not that the file could
// not be looked at.
func ExecMissing(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENAMETOOLONG)
}

// ScriptLine returns the "#!" line of the file f an exec runs (read at
// offset 0, f's own offset left as it is), without its newline, or "" if
// f is no script: the kernel runs the interpreter it names with the file.
func ScriptLine(f *os.File) string {
	if f == nil {
		return ""
	}
	buf := make([]byte, MaxScriptLine)
	n, _ := f.ReadAt(buf, 0)
	line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	if !bytes.HasPrefix(line, []byte("#!")) {
		return ""
	}
	return string(line)
}

// OpenScriptInterpreter opens, for its hash, the interpreter a script's
// "#!" line names (ScriptInterpreter), as the kernel of the caller tid
// finds it: an absolute name beneath the caller's root, a relative one
// from its working directory (walkOpen).
func OpenScriptInterpreter(tid int, name string) (*os.File, error) {
	proc := "/proc/" + strconv.Itoa(tid) + "/"
	return walkOpen(proc, proc+"cwd", name)
}

// walkOpen opens name as the kernel of the caller whose /proc directory
// is proc resolves it: an absolute name beneath the caller's root, a
// relative one from the directory dir (a /proc link of the caller's),
// links followed inside that root and ".." never above it. Done one
// component at a time with plain opens (no openat2: the containers' init
// cannot have it), so it serves every supervisor; a link or directory
// that leads into a /proc (whose self, cwd, root and fd links would be
// the supervisor's, not the caller's) is refused: no hash, never another
// file's.
func walkOpen(proc, dir, name string) (*os.File, error) {
	if name == "" {
		return nil, unix.ENOENT
	}
	if len(name) >= unix.PathMax {
		return nil, unix.ENAMETOOLONG
	}
	root, err := unix.Open(proc+"root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(root)
	var rst unix.Stat_t
	if err := unix.Fstat(root, &rst); err != nil {
		return nil, err
	}
	var d int
	if strings.HasPrefix(name, "/") {
		d, err = unix.Dup(root)
	} else {
		d, err = unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, err
	}
	defer func() { unix.Close(d) }()
	parts := strings.Split(name, "/")
	links := 0
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if d, _, err = climb(d, "..", &rst); err != nil {
				return nil, err
			}
			continue
		}
		fd, err := unix.Openat(d, part, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		var st unix.Stat_t
		var fs unix.Statfs_t
		if unix.Fstat(fd, &st) != nil || unix.Fstatfs(fd, &fs) != nil || fs.Type == unix.PROC_SUPER_MAGIC {
			unix.Close(fd)
			return nil, unix.EXDEV
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(fd, "", buf)
			unix.Close(fd)
			if links++; err != nil || n >= len(buf) || links > 40 {
				return nil, unix.ELOOP
			}
			target := string(buf[:n])
			if strings.HasPrefix(target, "/") {
				nd, err := unix.Dup(root)
				if err != nil {
					return nil, err
				}
				unix.Close(d)
				d = nd
			}
			parts = append(strings.Split(target, "/"), parts...)
		case unix.S_IFDIR:
			unix.Close(d)
			d = fd
		default:
			if strings.Join(parts, "") != "" {
				unix.Close(fd)
				return nil, unix.ENOTDIR
			}
			f, err := openFile(fmt.Sprintf("/proc/self/fd/%d", fd), execMode)
			unix.Close(fd)
			return f, err
		}
	}
	return nil, unix.EISDIR
}
