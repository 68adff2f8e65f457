package witness

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// fresh is how recent a modification time must be for ageTree to take the
// entry for one moat just made.
const fresh = 10 * time.Minute

// ageTree makes the tree that holds the planted files look as old as they
// do (a cheap tell: a home whose credentials are months old while its
// directories, .bashrc and .profile were modified a second ago). Under
// the deepest directory that holds every file of files (the home; none
// shallower than two levels, such as /home, is touched), each regular
// file (or link) moat made in the last minutes that the witness does not watch
// gets times from before the oldest planted file (the account's
// creation: .bashrc and .profile come from /etc/skel), and each directory
// made in the last minutes the modification time of its newest entry
// (the last file put in it). Change times stay what they are (no one can
// set them). It walks by descriptors, never following a symbolic link,
// and stops at nothing: it is best effort, before the program runs.
func ageTree(files []File, now time.Time) {
	if len(files) == 0 {
		return
	}
	root := filepath.Dir(filepath.Clean(files[0].Host))
	watched := map[string]bool{}
	for _, f := range files {
		h := filepath.Clean(f.Host)
		watched[h] = true
		for root != "/" && !strings.HasPrefix(h, root+"/") {
			root = filepath.Dir(root)
		}
	}
	if !filepath.IsAbs(root) || strings.Count(root, "/") < 2 {
		return
	}
	oldest := now
	for h := range watched {
		var st unix.Stat_t
		if unix.Lstat(h, &st) == nil && time.Unix(st.Mtim.Unix()).Before(oldest) {
			oldest = time.Unix(st.Mtim.Unix())
		}
	}
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	a := ager{watched: watched, since: now.Add(-fresh), skel: oldest.Add(-time.Duration(1+randN(60*24*3600)) * time.Second)}
	if m, ok := a.dir(fd, root, 0); ok {
		a.set(unix.AT_FDCWD, root, m)
	}
}

type ager struct {
	watched map[string]bool
	since   time.Time // entries modified after it are moat's
	skel    time.Time // when the account was made
}

// dir ages the entries of the directory open at fd (path p) and returns
// the modification time p should have, and whether p is moat's own.
func (a *ager) dir(fd int, p string, depth int) (time.Time, bool) {
	var self unix.Stat_t
	if unix.Fstat(fd, &self) != nil || depth > 16 {
		return time.Time{}, false
	}
	names := readNames(fd)
	newest := time.Time{}
	for _, n := range names {
		var st unix.Stat_t
		if unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			continue
		}
		m := time.Unix(st.Mtim.Unix())
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG, unix.S_IFLNK: // a link's own times, never its target's
			if !a.watched[p+"/"+n] && m.After(a.since) {
				m = a.skel
				a.set(fd, n, m)
			}
		case unix.S_IFDIR:
			sub, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			if dm, ok := a.dir(sub, p+"/"+n, depth+1); ok {
				m = dm
				a.set(fd, n, m)
			}
			unix.Close(sub)
		}
		if m.After(newest) {
			newest = m
		}
	}
	if !time.Unix(self.Mtim.Unix()).After(a.since) {
		return time.Time{}, false
	}
	if newest.IsZero() {
		newest = a.skel // empty since the account was made
	}
	return newest, true
}

// set gives the entry name of the directory fd modification time m and
// an access time a little after it, without following a link.
func (a *ager) set(fd int, name string, m time.Time) {
	at := m.Add(time.Duration(randN(24*3600)) * time.Second)
	if at.After(time.Now()) {
		at = m
	}
	ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(m.UnixNano())}
	_ = unix.UtimesNanoAt(fd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// readNames lists the directory open at fd (through a duplicate, so fd
// stays open).
func readNames(fd int) []string {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(d), "")
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return names
}
