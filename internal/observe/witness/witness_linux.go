package witness

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Witness watches the planted honeytoken files from outside the program:
// the kernel keeps each file's access time (moved by any read of its
// content: read, pread, mmap, sendfile, splice, copy_file_range, by any
// process, through any path or link, from Python, ctypes or a static
// binary) and its change time (moved by anything that sets the times back,
// changes the mode, the links or the content). Neither can be undone
// without moving ctime, which no one can set. So a read the audit hook
// never saw still shows, and hiding it is itself seen.
//
// What the witness needs, and checks at [Arm]: a mount that is not
// noatime, and nothing in the sandbox able to open with O_NOATIME (the
// native seccomp filter refuses the flag; see internal/sandbox/seccomp).
// It holds an O_PATH descriptor of each file, so a file renamed or removed
// after its read is still checked; an O_PATH descriptor reads nothing.
type Witness struct {
	files []witnessed
}

type witnessed struct {
	path         string // inside the sandbox, for events
	fd           int
	ino          uint64
	atime, ctime unix.Timespec
}

// Arm sets each file's access and modification times to a moment
// days back (as an old credentials file has; a read then moves the access
// time under relatime as under strictatime), opens it O_PATH without
// following links and records its times. files maps where the witness
// opens each file to its path inside the sandbox. On error nothing is
// held, and the reads of the planted files rest on the audit hook alone.
// The rest of the tree that holds the files (the home: its directories,
// .bashrc) is made to look as old (ageTree).
func Arm(files []File) (*Witness, error) {
	w := &Witness{}
	now := time.Now()
	for _, f := range files {
		var st unix.Statfs_t
		if err := unix.Statfs(f.Host, &st); err != nil {
			w.Close()
			return nil, fmt.Errorf("witness: statfs %s: %w", f.Path, err)
		}
		if st.Flags&unix.ST_NOATIME != 0 {
			w.Close()
			return nil, fmt.Errorf("witness: %s is on a noatime mount", f.Path)
		}
		mtime := now.Add(-time.Duration(3*24*3600+randN(200*24*3600)) * time.Second)
		atime := mtime.Add(time.Duration(randN(24*3600)) * time.Second)
		ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, f.Host, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			w.Close()
			return nil, fmt.Errorf("witness: set times of %s: %w", f.Path, err)
		}
		fd, err := unix.Open(f.Host, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("witness: open %s: %w", f.Path, err)
		}
		var s unix.Stat_t
		if err := unix.Fstat(fd, &s); err != nil || s.Mode&unix.S_IFMT != unix.S_IFREG {
			_ = unix.Close(fd)
			w.Close()
			return nil, fmt.Errorf("witness: %s is not a regular file: %w", f.Path, errors.Join(err, unix.EINVAL))
		}
		w.files = append(w.files, witnessed{path: f.Path, fd: fd, ino: s.Ino, atime: s.Atim, ctime: s.Ctim})
	}
	ageTree(files, now)
	return w, nil
}

// Check reports every file whose access time moved (Read) and every file
// whose change time moved (Altered), then closes the witness. Call it once the
// program and all it started are dead, before anything of moat's reads
// the files. A nil Witness reports nothing.
func (w *Witness) Check() []Change {
	if w == nil {
		return nil
	}
	defer w.Close()
	var evs []Change
	for _, f := range w.files {
		var s unix.Stat_t
		if err := unix.Fstat(f.fd, &s); err != nil {
			evs = append(evs, Change{Path: f.path, Kind: Failed, Detail: "honeytoken witness: " + err.Error()})
			continue
		}
		if s.Atim != f.atime {
			evs = append(evs, Change{Path: f.path, Kind: Read,
				Detail: "the file's access time moved to " + stamp(s.Atim) + ": its content was read"})
		}
		if s.Ctim != f.ctime {
			what := "its times were set, or its mode, links or content changed"
			if s.Nlink == 0 {
				what = "it was removed"
			}
			evs = append(evs, Change{Path: f.path, Kind: Altered,
				Detail: "the file's change time moved to " + stamp(s.Ctim) + ": " + what})
		}
	}
	return evs
}

// Close releases the descriptors.
func (w *Witness) Close() {
	if w == nil {
		return
	}
	for _, f := range w.files {
		_ = unix.Close(f.fd)
	}
	w.files = nil
}

func stamp(t unix.Timespec) string {
	return time.Unix(t.Unix()).UTC().Format("2006-01-02T15:04:05.000000000Z")
}

func randN(n int64) int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:])>>1) % n
}
