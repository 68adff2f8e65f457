package observe

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// FileState is what the diff compares. ctime cannot be set from user
// space, so a file rewritten and given its old mtime back still shows.
type FileState struct {
	Size  int64       `json:"size"`
	Mode  fs.FileMode `json:"mode"`
	Ino   uint64      `json:"ino"`
	Ctime int64       `json:"ctime"`
}

// Snapshot maps paths inside the sandbox to their state.
type Snapshot map[string]FileState

// Root is one directory the diff covers: Path inside the sandbox, Host
// where moat walks it (the same for a walk from inside).
type Root struct{ Path, Host string }

// Walk takes a snapshot of roots, at most MaxFSEntries entries, stopping
// at deadline. Links are not followed.
func Walk(roots []Root, deadline time.Time) Snapshot {
	m := make(Snapshot)
	for _, root := range roots {
		_ = filepath.WalkDir(root.Host, func(p string, d fs.DirEntry, err error) error {
			if err != nil || len(m) >= MaxFSEntries || time.Now().After(deadline) {
				return filepath.SkipAll
			}
			if p == root.Host {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			st, _ := fi.Sys().(*syscall.Stat_t)
			s := FileState{Size: fi.Size(), Mode: fi.Mode()}
			if st != nil {
				s.Ino, s.Ctime = st.Ino, ctime(st)
			}
			m[root.Path+strings.TrimPrefix(p, root.Host)] = s
			return nil
		})
	}
	return m
}

// Differ turns two snapshots into "fs" events: files created, changed and
// deleted, with the first bytes of persistence-relevant files, and a
// "honeytoken-written" event for every planted token found (in any
// encoding a honeytoken.Matcher undoes) in a changed file other than its
// own.
type Differ struct {
	Tokens  []honeytoken.Token
	Planted map[string]string // the token files: never scanned
	// Read returns up to n bytes of the file at path p (inside the
	// sandbox), never following a link; nil: contents are not scanned.
	Read     func(p string, n int64) ([]byte, error)
	Deadline time.Time
	At       int64 // TimeMS of the events
}

// Diff compares before with after. It returns at most MaxFSEvents events,
// the Interesting paths first, and counts the rest as dropped.
func (d *Differ) Diff(before, after Snapshot) (evs []moat.Event, dropped int) {
	add := func(ev moat.Event) {
		if len(evs) >= MaxFSEvents {
			dropped++
			return
		}
		ev.Source, ev.TimeMS = "fs", d.At
		evs = append(evs, ev)
	}
	paths := make([]string, 0, len(after))
	for p := range after {
		paths = append(paths, p)
	}
	// Paths that run code later (Interesting: .pth, rc files, cron, ...)
	// come first, so that neither MaxFSEvents nor the scan budget can be
	// used up by throwaway files written to hide them.
	sort.Slice(paths, func(i, j int) bool {
		ii, ij := Interesting(paths[i]), Interesting(paths[j])
		if ii != ij {
			return ii
		}
		return paths[i] < paths[j]
	})
	var scanned int64
	matcher := honeytoken.NewMatcher(d.Tokens)
	for _, p := range paths {
		a := after[p]
		b, existed := before[p]
		if existed && a == b {
			continue
		}
		if a.Mode.IsDir() && existed {
			continue // a directory's ctime moves with every entry
		}
		kind := moat.KindFileCreated
		if existed {
			kind = "file-changed"
		}
		ev := moat.Event{Kind: kind, Path: audit.Clean(p, 400), Detail: fmt.Sprintf("%s, %d bytes", a.Mode, a.Size)}
		if d.Read != nil && a.Mode.IsRegular() && a.Size <= MaxScanFile && scanned < MaxScanTotal && time.Now().Before(d.Deadline) {
			if data, err := d.Read(p, a.Size+1); err == nil {
				scanned += int64(len(data))
				if Interesting(p) {
					ev.Data = audit.Clean(string(data[:min(len(data), 1024)]), 1024)
				}
				if _, planted := d.Planted[p]; !planted {
					for _, h := range matcher.Match(data) {
						add(moat.Event{Kind: "honeytoken-written", Path: ev.Path, Name: h.ID, Detail: h.Encoding})
					}
				}
			}
		}
		add(ev)
	}
	var gone []string
	for p := range before {
		if _, ok := after[p]; !ok {
			gone = append(gone, p)
		}
	}
	sort.Strings(gone)
	for _, p := range gone {
		add(moat.Event{Kind: "file-deleted", Path: audit.Clean(p, 400)})
	}
	return evs, dropped
}

// Interesting names the files whose first bytes the diff keeps: those
// that run code at the next login, interpreter start or command.
func Interesting(p string) bool {
	base := filepath.Base(p)
	switch {
	case strings.HasSuffix(base, ".pth"), base == "sitecustomize.py", base == "usercustomize.py",
		strings.HasPrefix(base, ".") && (strings.HasSuffix(base, "rc") || strings.HasSuffix(base, "profile") || base == ".bash_login"),
		strings.HasSuffix(base, ".desktop"), strings.HasSuffix(base, ".service"), strings.HasSuffix(base, ".timer"),
		strings.Contains(p, "cron"), strings.Contains(p, "/bin/"):
		return true
	}
	return false
}

// ReadBounded reads up to n bytes of the file p, never following a link
// in its last component and never blocking on a FIFO.
func ReadBounded(p string, n int64) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	k, err := f.ReadAt(buf, 0)
	if k > 0 {
		err = nil
	}
	return buf[:k], err
}

// UnixMode converts a stat(2) st_mode to an fs.FileMode, for snapshots
// taken by something other than Go (bootstrap.py, the containers' fallback init).
func UnixMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
