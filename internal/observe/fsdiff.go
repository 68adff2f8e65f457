package observe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
	"github.com/moat-sandbox/moat/internal/observe/scanorder"
	"github.com/moat-sandbox/moat/internal/observe/xattr"
)

// FileState is what the diff compares. ctime cannot be set from user
// space, so a file rewritten and given its old mtime back still shows.
type FileState struct {
	Size  int64       `json:"size"`
	Mode  fs.FileMode `json:"mode"`
	Ino   uint64      `json:"ino"`
	Ctime int64       `json:"ctime"`
	// Link is a symbolic link's target, at most MaxLink bytes: text the
	// run chose (a secret can be put there; red team, session 18).
	Link string `json:"link,omitempty"`
}

// MaxLink bounds the target of a link kept in a snapshot.
const MaxLink = 4096

// Snapshot maps paths inside the sandbox to their state.
type Snapshot map[string]FileState

// Root is one directory the diff covers: Path inside the sandbox, Host
// where moat walks it (the same for a walk from inside).
type Root struct{ Path, Host string }

// Walk takes a snapshot of roots, at most MaxFSEntries entries,
// MaxFSPathBytes of their paths and MaxFSDepth levels, stopping at deadline (WalkCut). Links are not
// followed.
func Walk(roots []Root, deadline time.Time) Snapshot {
	m, _ := WalkCut(roots, deadline)
	return m
}

// WalkCut is Walk, and says why the snapshot is not whole ("" when it
// is): a cap, the deadline, or a tree deeper than MaxFSDepth, which is
// walked down to there and not below (the walk goes on with the rest),
// or entries that could not be read (a path past PATH_MAX), left out.
func WalkCut(roots []Root, deadline time.Time) (Snapshot, string) {
	m := make(Snapshot)
	var cut []string
	stop, deep, unread, nUnread, size := "", "", "", 0, 0
	for _, root := range roots {
		_ = filepath.WalkDir(root.Host, func(p string, d fs.DirEntry, err error) error {
			switch {
			case len(m) >= MaxFSEntries:
				stop = fmt.Sprintf("stopped at its cap of %d entries", MaxFSEntries)
				return filepath.SkipAll
			case size > MaxFSPathBytes:
				stop = fmt.Sprintf("stopped at its cap of %d bytes of paths", MaxFSPathBytes)
				return filepath.SkipAll
			case time.Now().After(deadline):
				stop = "stopped at its time budget"
				return filepath.SkipAll
			case p == root.Host:
				if err != nil {
					return filepath.SkipAll
				}
				return nil
			}
			rel := strings.TrimPrefix(p, root.Host)
			if strings.Count(rel, "/") > MaxFSDepth {
				// The rest of this directory, and all below it, is
				// left out.
				if deep == "" {
					deep = root.Path + path.Dir(rel)
				}
				return filepath.SkipDir
			}
			var fi fs.FileInfo
			if err == nil {
				fi, err = d.Info()
			}
			if err != nil {
				// Its siblings are walked; what could not be read (a
				// path past PATH_MAX) is said.
				if nUnread++; unread == "" {
					why := err
					var pe *fs.PathError
					if errors.As(err, &pe) {
						why = pe.Err
					}
					unread = root.Path + rel + ": " + why.Error()
				}
				return nil
			}
			st, _ := fi.Sys().(*syscall.Stat_t)
			s := FileState{Size: fi.Size(), Mode: fi.Mode()}
			if st != nil {
				s.Ino, s.Ctime = st.Ino, ctime(st)
			}
			if fi.Mode()&fs.ModeSymlink != 0 {
				if l, err := os.Readlink(p); err == nil {
					s.Link = l[:min(len(l), MaxLink)]
				}
			}
			m[root.Path+rel] = s
			size += len(root.Path) + len(rel)
			return nil
		})
	}
	if stop != "" {
		cut = append(cut, stop)
	}
	if deep != "" {
		cut = append(cut, fmt.Sprintf("a tree deeper than %d levels was not walked below %s", MaxFSDepth, audit.Clean(deep, 200)))
	}
	if nUnread > 0 {
		cut = append(cut, fmt.Sprintf("%d entries could not be read, first %s", nUnread, audit.Clean(unread, 300)))
	}
	return m, strings.Join(cut, "; ")
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
	Read func(p string, n int64) ([]byte, error)
	// ReadAt returns up to n bytes of the file at p from offset off, as
	// Read; nil: only the first MaxScanFile bytes of a file are scanned.
	ReadAt func(p string, off, n int64) ([]byte, error)
	// Data, if set, returns the next run of the file p's data at or
	// after off, [start, end), as lseek's SEEK_DATA and SEEK_HOLE find
	// it (DataAt), or start = end = the file's end when only a hole is
	// left: the scan reads data only, so a hole of any size (a sparse
	// file of a TiB) costs no budget and hides nothing behind it. A hole
	// reads as zeros, which no encoding of a token is. nil: every byte
	// up to the file's size is read.
	Data func(p string, off int64) (start, end int64, err error)
	// Xattrs, if set, returns the extended attributes of the file or
	// directory at p (never following a link; xattr.Read's bounds): the
	// names and values of those of every entry the run created or
	// changed (a directory too) are searched for the tokens as a file's
	// content is, up to xattr.MaxTotal bytes a diff. nil: none are.
	Xattrs   func(p string) ([]xattr.Attr, error)
	Deadline time.Time
	At       int64 // TimeMS of the events
	// Cut says why the walk of after is not whole (WalkCut): an event
	// of moat's that the report is incomplete.
	Cut string
	// scanCut: the content search stopped at its budget or deadline.
	scanCut bool
	// Pycs, filled by Diff, are the suspect .pyc files (a "bytecode"
	// event's) with a source to compare them with, whole, within
	// MaxPycPairs and MaxPycBytes: what report.VerifyBytecode checks.
	Pycs     []PycPair
	pycBytes int64
}

// keepPyc keeps the .pyc at p (event path ev, state a) and its source
// whole in d.Pycs, if it has one and both fit the bounds; else the
// suspect is not verified (its finding stays high).
func (d *Differ) keepPyc(p, ev string, a FileState, after Snapshot) {
	src, opt, ok := bytecodeSource(p, after)
	if !ok || d.Read == nil || len(d.Pycs) >= MaxPycPairs {
		return
	}
	s := after[src]
	if a.Size > MaxPycFile || s.Size > MaxPycFile || d.pycBytes+a.Size+s.Size > MaxPycBytes {
		return
	}
	pyc, err := d.Read(p, a.Size+1)
	if err != nil || int64(len(pyc)) != a.Size {
		return
	}
	source, err := d.Read(src, s.Size+1)
	if err != nil || int64(len(source)) != s.Size {
		return
	}
	d.pycBytes += a.Size + s.Size
	d.Pycs = append(d.Pycs, PycPair{Path: ev, SourcePath: src, Opt: opt, Pyc: pyc, Source: source})
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
	// reserve keeps events of one kind past MaxFSEvents, up to
	// maxSecretEvents of them: throwaway files written first must not
	// crowd out a secret found or a .pyc that runs in place of a source.
	reserve := func(kind moat.Kind) func(moat.Event) {
		n := 0
		return func(ev moat.Event) {
			if n >= maxSecretEvents {
				dropped++
				return
			}
			n++
			ev.Source, ev.TimeMS, ev.Kind = "fs", d.At, kind
			evs = append(evs, ev)
		}
	}
	secret, kept := reserve(moat.KindHoneytokenWritten), reserve(moat.KindBytecode)
	if d.Cut != "" {
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindReportCut, TimeMS: d.At, Detail: "the walk of the writable directories " + d.Cut})
	}
	paths := make([]string, 0, len(after))
	for p := range after {
		paths = append(paths, p)
	}
	// Paths that run code later (Interesting: .pth, rc files, cron, ...)
	// come first, so that neither MaxFSEvents nor the scan budget can be
	// used up by throwaway files written to hide them.
	// A container's init sends the files in this order too (scanorder).
	sort.Slice(paths, func(i, j int) bool { return scanorder.Less(paths[i], paths[j]) })
	var scanned, xattrBytes int64
	// The suspect .pyc files past the reserve are one event (fail
	// closed: benign bytecode verified cannot be used to crowd out a
	// planted one, which would then go unseen).
	nPyc, pycOver := 0, ""
	defer func() {
		if over := nPyc - maxSecretEvents; over > 0 {
			evs = append(evs, moat.Event{Source: "fs", TimeMS: d.At, Kind: moat.KindBytecode, Path: pycOver,
				Detail: fmt.Sprintf("and %d more suspect .pyc files past the diff's reserve of %d: neither kept nor verified", over, maxSecretEvents)})
		}
	}()
	matcher := honeytoken.NewMatcher(d.Tokens)
	for _, p := range paths {
		a := after[p]
		b, existed := before[p]
		if existed && a == b {
			continue
		}
		if _, planted := d.Planted[p]; !planted && d.Xattrs != nil {
			d.searchXattrs(p, matcher, &xattrBytes, secret)
		}
		if a.Link != "" && (!existed || a.Link != b.Link) {
			// A link's target is text the run chose, read by no open
			// (never followed): search it as a file's content.
			for _, h := range matcher.Match([]byte(a.Link)) {
				secret(moat.Event{Path: audit.CleanPath(p, audit.MaxPath), Name: h.ID, Detail: "in its link target (" + h.Encoding + ")"})
			}
		}
		if a.Mode.IsDir() && existed {
			continue // a directory's ctime moves with every entry
		}
		kind := moat.KindFileCreated
		if existed {
			kind = "file-changed"
		}
		ev := moat.Event{Kind: kind, Path: audit.CleanPath(p, audit.MaxPath), Detail: fmt.Sprintf("%s, %d bytes", a.Mode, a.Size)}
		if d.Read != nil && a.Mode.IsRegular() {
			_, planted := d.Planted[p]
			pth := strings.HasSuffix(p, ".pth")
			var code, conf []string
			confCut := false
			var header []byte
			seen := map[string]bool{}
			whole := d.scan(p, a.Size, &scanned, func(off int64, data []byte) {
				if off == 0 && Interesting(p) {
					ev.Data = audit.Clean(string(data[:min(len(data), 1024)]), 1024)
				}
				if off == 0 && strings.HasSuffix(p, ".pyc") {
					header = slices.Clone(data[:min(len(data), pycHeader)])
				}
				if pth {
					code = pthCode(data, off == 0, code)
				} else if Interesting(p) && (off > 0 || len(data) > 1024) {
					keys := confKeys
					if path.Base(p) == "pyvenv.cfg" {
						keys = venvKeys
					}
					conf, confCut = confLines(data, off == 0, keys, conf, confCut)
				}
				if planted {
					return
				}
				if a.Size > MaxScanFile {
					// A big file's text only (a secret in it is text
					// in some encoding, or compressed in a small file):
					// binary padding costs little.
					data = textRuns(data, 32)
				}
				for _, h := range matcher.Match(data) {
					if !seen[h.ID+h.Encoding] {
						seen[h.ID+h.Encoding] = true
						secret(moat.Event{Path: ev.Path, Name: h.ID, Detail: h.Encoding})
					}
				}
			})
			if len(code) > 0 {
				// What site.py runs of it, wherever it is in the file.
				ev.Data = audit.Clean(strings.Join(code, "\n"), 1024)
			}
			if len(conf) > 0 {
				// The lines that may run a command, wherever they are
				// in the file, before its start.
				ev.Data = audit.Clean(strings.Join(conf, "\n")+"\n"+ev.Data, maxConf+1024)
			}
			if !whole || confCut {
				ev.Detail += ", " + NotReadWhole
			}
			if why := Bytecode(p, header, before, after); why != "" {
				if nPyc < maxSecretEvents {
					kept(moat.Event{Kind: moat.KindBytecode, Path: ev.Path, Detail: why})
					d.keepPyc(p, ev.Path, a, after)
				} else if pycOver == "" {
					pycOver = ev.Path
				}
				nPyc++
			}
		}
		add(ev)
	}
	if d.scanCut {
		// The content search stopped at its budget (or the deadline):
		// what it did not read is counted with the events dropped, as
		// the names' cut below, never silent (a low finding: an
		// ordinary install writes more than the budget too).
		dropped++
	}
	if d.names(before, after, matcher, secret) != "" {
		// Counted with the events dropped (a low finding, as a flood of
		// files gets): an ordinary install's thousands of names reach the
		// diff's deadline too, and a medium "report cut" there was a
		// false alarm on every benign package.
		dropped++
	}
	var gone []string
	for p := range before {
		if _, ok := after[p]; !ok {
			gone = append(gone, p)
		}
	}
	sort.Strings(gone)
	for _, p := range gone {
		add(moat.Event{Kind: "file-deleted", Path: audit.CleanPath(p, audit.MaxPath)})
	}
	return evs, dropped
}

// searchXattrs searches the names and values of the extended attributes
// of p for the tokens, each found once per attribute, while *total stays
// under xattr.MaxTotal and the deadline is not past (else the scan is
// cut, and said).
func (d *Differ) searchXattrs(p string, m *honeytoken.Matcher, total *int64, secret func(moat.Event)) {
	if *total >= xattr.MaxTotal || !time.Now().Before(d.Deadline) {
		d.scanCut = true
		return
	}
	xs, err := d.Xattrs(p)
	if err != nil {
		d.scanCut = true // some not read: counted, never silent
	}
	for _, x := range xs {
		if *total >= xattr.MaxTotal {
			d.scanCut = true
			return
		}
		*total += int64(len(x.Name) + len(x.Value))
		name := audit.Clean(x.Name, 200)
		seen := map[string]bool{}
		for _, h := range append(m.Match([]byte(x.Name)), m.Match(x.Value)...) {
			if !seen[h.ID+h.Encoding] {
				seen[h.ID+h.Encoding] = true
				secret(moat.Event{Path: audit.CleanPath(p, audit.MaxPath), Name: h.ID, Detail: "in its extended attribute " + name + " (" + h.Encoding + ")"})
			}
		}
	}
}

// maxSecretEvents bounds the honeytoken-written events of one diff.
const maxSecretEvents = 100

// names looks for the tokens in the names of the files created, before
// any budget: each name alone, and per directory all of them joined (the
// longest run of letters and digits of each), in the order of their names
// in the order of the numbers in what is left of each name (a chunk
// with its sequence number: "part-07-<chunk>", "<chunk>.3"), and in the
// order they were made (change time, then inode number). A program that
// makes the names in another order than the secret's, sorted neither by
// name nor by a number, is not found.
//
// The work is bounded (a directory of thousands of long names made the
// host's matcher run for minutes: moattest's walk-flood): the diff's
// deadline is checked before every search, and a directory's names are
// joined up to maxJoined bytes; what is cut is said (the returned
// reason, "" when the search was whole).
func (d *Differ) names(before, after Snapshot, m *honeytoken.Matcher, secret func(moat.Event)) (cut string) {
	type entry struct {
		base, chunk, rest string
		ctime             int64
		ino               uint64
	}
	dirs := map[string][]entry{}
	var order []string
	for p := range after {
		if _, existed := before[p]; existed {
			continue
		}
		dir, base := path.Split(p)
		if _, planted := d.Planted[p]; planted {
			continue
		}
		if len(dirs[dir]) == 0 {
			order = append(order, dir)
		}
		if len(dirs[dir]) < maxNamesJoined {
			c := LongestAlnum(base)
			dirs[dir] = append(dirs[dir], entry{base, c, strings.Replace(base, c, "", 1), after[p].Ctime, after[p].Ino})
		}
	}
	sort.Strings(order)
	late := func() bool { return !d.Deadline.IsZero() && time.Now().After(d.Deadline) }
	for _, dir := range order {
		es := dirs[dir]
		found := map[string]bool{}
		for _, e := range es {
			if late() {
				return "past its time budget"
			}
			for _, h := range m.Match([]byte(e.chunk)) {
				if !found[h.ID] {
					found[h.ID] = true
					secret(moat.Event{Path: audit.CleanPath(dir, audit.MaxPath), Name: h.ID, Detail: "in a file name " + audit.Clean(e.chunk, 200) + " (" + h.Encoding + ")"})
				}
			}
		}
		if len(es) < 2 {
			continue
		}
		for _, how := range []string{"name", "number", "creation"} {
			sort.SliceStable(es, func(i, j int) bool {
				switch how {
				case "name":
					return es[i].base < es[j].base
				case "number":
					return naturalLess(es[i].rest, es[j].rest)
				}
				if es[i].ctime != es[j].ctime {
					return es[i].ctime < es[j].ctime
				}
				return es[i].ino < es[j].ino // tmpfs numbers inodes as it makes them
			})
			if late() {
				return "past its time budget"
			}
			var joined strings.Builder
			for _, e := range es {
				if joined.Len()+len(e.chunk) > maxJoined {
					cut = "past " + strconv.Itoa(maxJoined>>10) + " KiB of one directory's names"
					break
				}
				joined.WriteString(e.chunk)
			}
			for _, h := range m.Match([]byte(joined.String())) {
				if !found[h.ID] {
					found[h.ID] = true
					secret(moat.Event{Path: audit.CleanPath(dir, audit.MaxPath), Name: h.ID,
						Detail: "split over the names of its files, in the order of their " + how + " (" + h.Encoding + ")"})
				}
			}
		}
	}
	return cut
}

// maxNamesJoined bounds the names of one directory kept; maxJoined the
// bytes of them joined for one search (the matcher takes seconds a MiB).
const (
	maxNamesJoined = 20000
	maxJoined      = 64 << 10
)

// LongestAlnum is the longest run of letters and digits in s: the part
// of a name that can carry a chunk of an encoded secret.
func LongestAlnum(s string) string {
	best, cur := "", 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
			cur++
			continue
		}
		if cur > len(best) {
			best = s[i-cur : i]
		}
		cur = 0
	}
	return best
}

// naturalLess orders a before b by the numbers in them, then as text.
func naturalLess(a, b string) bool {
	na, nb := firstNumber(a), firstNumber(b)
	if na != nb {
		return na < nb
	}
	return a < b
}

// firstNumber is the first run of digits in s (at most 9 of them), or -1.
func firstNumber(s string) int {
	n, in := -1, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if !in {
				n, in = 0, true
			}
			if n < 1e8 {
				n = n*10 + int(c-'0')
			}
			continue
		}
		if in {
			break
		}
	}
	return n
}

// NotReadWhole ends the Detail of a file event whose content was not
// scanned to its end (the scan budget, the deadline, or a backend that
// sends only a file's start).
const NotReadWhole = "not read whole"

// scanOverlap is how much of the window before each window of a big
// file's scan repeats: a secret (or a .pth line's start) across two
// windows is whole in one.
const scanOverlap = 64 << 10

// scan reads the file p of size bytes in windows of MaxScanFile that
// overlap, while *budget stays under MaxScanTotal and the deadline is not
// past, and calls f with each window's offset and data. With d.Data it
// reads the runs of data only, each in windows that overlap, and skips
// the holes between them. It reports whether the whole file was read.
func (d *Differ) scan(p string, size int64, budget *int64, f func(off int64, data []byte)) bool {
	var off int64
	for {
		if *budget >= MaxScanTotal || !time.Now().Before(d.Deadline) {
			d.scanCut = true
			return false
		}
		// stop: where this run of data ends (past size: a file longer
		// than walked shows in a read of one byte more)
		stop := size + 1
		if d.Data != nil {
			start, end, err := d.Data(p, off)
			switch {
			case err != nil:
				return false
			case start >= size:
				return true // nothing but a hole is left
			case end <= start || end <= off:
				return false // not an answer: never loop on it
			}
			off, stop = max(off, start), min(end, size+1)
		}
		want := min(stop-off, int64(MaxScanFile))
		if off == 0 && stop > size {
			want = min(size, MaxScanFile) + 1
		}
		var data []byte
		var err error
		switch {
		case off == 0:
			data, err = d.Read(p, want)
		case d.ReadAt != nil:
			data, err = d.ReadAt(p, off, want)
		default:
			return false
		}
		if err != nil {
			return false
		}
		*budget += int64(len(data))
		f(off, data)
		end := off + int64(len(data))
		switch {
		case end >= size:
			return true
		case int64(len(data)) < want:
			// less than the file as it was walked (a backend that
			// sent only a part of it)
			return false
		case end >= stop:
			off = end // the run of data ends at a hole: no overlap
		default:
			off = end - scanOverlap
		}
	}
}

// pthCode adds to code the lines of a .pth file's window data that
// site.py executes (those starting with "import" and a space or tab),
// each once and at most 16. A line counts only from its start: the
// window's first line only if it is the file's (first).
func pthCode(data []byte, first bool, code []string) []string {
	lines := PthLines(string(data))
	if !first {
		lines = lines[1:]
	}
	for _, l := range lines {
		if len(code) >= 16 {
			break
		}
		if strings.HasPrefix(l, "import ") || strings.HasPrefix(l, "import\t") {
			l = l[:min(len(l), 400)]
			if !slices.Contains(code, l) {
				code = append(code, l)
			}
		}
	}
	return code
}

// A configuration that runs code later (git's, ssh's, a cloud CLI's)
// can put the key that runs it after a KiB of padding, past the start an
// event's Data keeps (red team, session 18: a ~/.gitconfig and a
// ~/.ssh/config with hooksPath and ProxyCommand past 2 KB of comment
// gave no finding). confLines keeps, from the whole file, the lines
// that are no comment and name a key that may run something (a superset
// of what the report's rules read); more than maxConfLines or maxConf
// bytes of them cut it, and the file is then judged as not read whole
// (by its place alone: fail closed).
const (
	maxConfLines = 32
	maxConf      = 2048
)

var confKeys = []string{"hookspath", "fsmonitor", "command", "cmd", "askpass", "pager", "editor", "textconv",
	"smudge", "clean", "process", "external", "helper", "program", "proxy", "uploadpack", "receivepack", "tool",
	"include", "exec", "!", "runon", "folderopen", "argv", "shell", "script"}

// venvKeys: of a pyvenv.cfg, the key that decides what later starts run.
var venvKeys = []string{"home"}

func confLines(data []byte, first bool, keys, kept []string, cut bool) ([]string, bool) {
	lines := PthLines(string(data))
	if !first && len(lines) > 0 {
		lines = lines[1:] // the window's first line may be cut: the overlap holds it whole
	}
	n := 0
	for _, l := range kept {
		n += len(l)
	}
	for _, l := range lines {
		t := strings.ToLower(strings.TrimLeft(l, " \t"))
		if t == "" || t[0] == '#' || t[0] == ';' || strings.HasPrefix(t, "//") {
			continue
		}
		hit := false
		for _, k := range keys {
			if strings.Contains(t, k) {
				hit = true
				break
			}
		}
		if !hit || slices.Contains(kept, l) {
			continue
		}
		if len(kept) >= maxConfLines || n+len(l) > maxConf {
			return kept, true
		}
		kept, n = append(kept, l), n+len(l)
	}
	return kept, cut
}

// PthLines splits a .pth file's text as site.py does, failing closed:
// Python 3.11 reads it with universal newlines ("\r" alone ends a line,
// so "# comment\rimport os; ..." runs its import), 3.13 with
// str.splitlines (also \v, \f, \x1c-\x1e, U+0085, U+2028, U+2029) and
// a leading byte-order mark dropped; a line ends at any of them here.
func PthLines(s string) []string {
	s = strings.TrimPrefix(s, "\ufeff")
	return strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			return true
		}
		return false
	})
}

// textRuns is the runs of printable ASCII in b at least n long, each on
// a line of its own.
func textRuns(b []byte, n int) []byte {
	var out []byte
	start := -1
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] >= 0x20 && b[i] < 0x7f {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= n {
			out = append(append(out, b[start:i]...), '\n')
		}
		start = -1
	}
	return out
}

// ReadBoundedAt reads up to n bytes of the file p from offset off, as
// ReadBounded.
func ReadBoundedAt(p string, off, n int64) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	k, err := f.ReadAt(buf, off)
	if k > 0 {
		err = nil
	}
	return buf[:k], err
}

// Interesting names the files whose first bytes the diff keeps: those
// that run code at the next login, interpreter start or command.
func Interesting(p string) bool { return scanorder.Interesting(p) }

// DataAt is Differ.Data for a file at p (never following a link in its
// last component, never blocking on a FIFO): lseek's SEEK_DATA and
// SEEK_HOLE. A file system that does not tell holes (EINVAL) has data up
// to the file's end.
func DataAt(p string, off int64) (start, end int64, err error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size := fi.Size()
	start, err = f.Seek(off, unix.SEEK_DATA)
	switch {
	case errors.Is(err, unix.ENXIO):
		return size, size, nil // a hole up to the end
	case errors.Is(err, unix.EINVAL):
		return off, max(off+1, size), nil
	case err != nil:
		return 0, 0, err
	}
	end, err = f.Seek(start, unix.SEEK_HOLE)
	if err != nil || end <= start {
		end = max(start+1, size)
	}
	return start, end, nil
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
