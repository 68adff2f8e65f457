// Package archive validates Python package archives (sdists as .tar.gz,
// wheels as .zip) before anything else touches them. It never extracts:
// it reads every entry once, checks its name, type and size, and returns
// an error for anything an extractor could be tricked by. [ReadFile] does
// the same and hands each regular file's content to its caller, in memory
// (moat scan reads packages so).
//
// An archive is rejected when an entry
//   - has an absolute name, a ".." component, a backslash, a NUL or another
//     control character, or an empty name;
//   - is a device, fifo or other special file;
//   - is a symlink whose target is absolute, leaves the archive, or is
//     resolved through another symlink of the archive;
//   - is a hard link to anything but a regular file met earlier;
//   - lies below a symlink of the archive (writing through a link);
//   - appears twice with different types;
//
// and when the archive as a whole is a bomb: more than Limits.Files
// entries, more than Limits.Bytes of content, or (beyond a small floor) a
// ratio of content to archive size above Limits.Ratio. The content is
// actually decompressed and counted, never trusted from headers, and the
// reading stops as soon as a cap is passed.
//
// Every error wraps ErrHostile (the archive tries something), ErrLimit (a
// cap) or ErrCorrupt (not a readable archive), and is one line naming the
// offending entry, escaped.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/moat-sandbox/moat/internal/termsafe"
)

// Sentinel errors; branch with errors.Is.
var (
	ErrHostile = errors.New("hostile archive")
	ErrLimit   = errors.New("archive over the limits")
	ErrCorrupt = errors.New("corrupt archive")
)

// Limits caps one archive. Zero fields take the defaults.
type Limits struct {
	Bytes int64   // total uncompressed content
	Files int     // entries of any kind
	Ratio float64 // uncompressed content / archive size
}

// Defaults: generous for real packages, far below what hurts.
var DefaultLimits = Limits{Bytes: 1 << 30, Files: 50000, Ratio: 200}

// ratioFloor: below this much content the ratio is not checked (small
// files of text compress far better than 200:1 without being bombs).
const ratioFloor = 16 << 20

func (l Limits) withDefaults() Limits {
	if l.Bytes <= 0 {
		l.Bytes = DefaultLimits.Bytes
	}
	if l.Files <= 0 {
		l.Files = DefaultLimits.Files
	}
	if l.Ratio <= 0 {
		l.Ratio = DefaultLimits.Ratio
	}
	return l
}

// Info describes an archive that passed.
type Info struct {
	Files int   // entries
	Bytes int64 // uncompressed content
	// Root is the single top-level directory every entry lies in ("" if
	// there is none), as sdists have: name-version/.
	Root string
}

// Kind of archive, from its name.
type Kind int

const (
	Unknown Kind = iota
	TarGz        // .tar.gz, .tgz
	Zip          // .whl, .zip
)

// KindOf tells the kind of an archive by its file name.
func KindOf(name string) Kind {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return TarGz
	case strings.HasSuffix(n, ".whl"), strings.HasSuffix(n, ".zip"):
		return Zip
	}
	return Unknown
}

// CheckFile validates the archive at p, by the kind its name says.
func CheckFile(p string, lim Limits) (*Info, error) {
	return ReadFile(p, lim, nil)
}

// ReadFile validates the archive at p exactly as CheckFile does and
// gives each regular file's content to fn as it goes, never writing
// anything anywhere. The archive may still be rejected after fn saw some
// of its files (a later entry, or a check that needs every entry): on an
// error, discard what fn collected.
func ReadFile(p string, lim Limits, fn FileFunc) (*Info, error) {
	k := KindOf(p)
	if k == Unknown {
		return nil, fmt.Errorf("%s: not a .tar.gz, .whl or .zip: %w", clean(path.Base(p)), ErrCorrupt)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file: %w", clean(path.Base(p)), ErrCorrupt)
	}
	c := newChecker(lim, fi.Size())
	c.file = fn
	if k == TarGz {
		return checkTarGz(c, f)
	}
	return checkZip(c, f, fi.Size())
}

// entry is what the link checks need of one member.
type entry struct {
	name   string // cleaned, relative
	kind   byte   // 'f' file, 'd' dir, 'l' symlink, 'h' hard link
	target string // link target as stored
}

// checker accumulates entries and enforces the caps.
type checker struct {
	lim     Limits
	size    int64 // of the archive
	n       int
	bytes   int64
	entries []entry
	byName  map[string]byte
	// file, if set, is given each regular file's content as it is read
	// (ReadFile): counted against the caps like everything else.
	file FileFunc
}

// FileFunc receives one regular file of an archive: its cleaned relative
// name and a reader of its content (already counted against the caps;
// what the function leaves unread is read and counted after it). An
// error stops the reading and is returned as is.
type FileFunc func(name string, size int64, r io.Reader) error

func newChecker(lim Limits, size int64) *checker {
	return &checker{lim: lim.withDefaults(), size: size, byName: map[string]byte{}}
}

// add checks one entry's name and type; content is counted separately.
func (c *checker) add(raw string, kind byte, target string) error {
	c.n++
	if c.n > c.lim.Files {
		return fmt.Errorf("more than %d entries: %w", c.lim.Files, ErrLimit)
	}
	name, err := checkName(raw)
	if err != nil {
		return err
	}
	if name == "." {
		if kind != 'd' {
			return fmt.Errorf("entry %q: not a directory: %w", clean(raw), ErrHostile)
		}
		return nil
	}
	if prev, ok := c.byName[name]; ok && (prev != kind || kind != 'd') {
		return fmt.Errorf("entry %q appears twice: %w", clean(raw), ErrHostile)
	}
	c.byName[name] = kind
	switch kind {
	case 'l':
		if target == "" || strings.HasPrefix(target, "/") || strings.ContainsAny(target, "\\\x00") {
			return fmt.Errorf("symlink %q -> %q points outside the archive: %w", clean(raw), clean(target), ErrHostile)
		}
	case 'h':
		t, err := checkName(target)
		if err != nil || t == "." {
			return fmt.Errorf("hard link %q -> %q points outside the archive: %w", clean(raw), clean(target), ErrHostile)
		}
		if c.byName[t] != 'f' {
			return fmt.Errorf("hard link %q -> %q: target is not an earlier regular file: %w", clean(raw), clean(target), ErrHostile)
		}
		target = t
	}
	c.entries = append(c.entries, entry{name: name, kind: kind, target: target})
	return nil
}

// count adds n bytes of content and checks the caps.
func (c *checker) count(n int64) error {
	c.bytes += n
	if c.bytes > c.lim.Bytes {
		return fmt.Errorf("more than %d bytes uncompressed: %w", c.lim.Bytes, ErrLimit)
	}
	if c.bytes > ratioFloor && c.size > 0 && float64(c.bytes)/float64(c.size) > c.lim.Ratio {
		return fmt.Errorf("expands more than %g times (%d bytes from %d): %w", c.lim.Ratio, c.bytes, c.size, ErrLimit)
	}
	return nil
}

// finish runs the checks that need every entry: nothing below a symlink,
// no symlink leaving the archive or resolved through another one.
func (c *checker) finish() (*Info, error) {
	links := map[string]bool{}
	for _, e := range c.entries {
		if e.kind == 'l' {
			links[e.name] = true
		}
	}
	root, single := "", true
	for _, e := range c.entries {
		// No proper prefix of a name may be a symlink.
		for d := path.Dir(e.name); d != "."; d = path.Dir(d) {
			if links[d] {
				return nil, fmt.Errorf("entry %q lies below the symlink %q: %w", clean(e.name), clean(d), ErrHostile)
			}
		}
		top, _, _ := strings.Cut(e.name, "/")
		if root == "" {
			root = top
		} else if top != root {
			single = false
		}
		if e.kind != 'l' {
			continue
		}
		// Walk the target from the link's directory: never above the
		// archive's root, never through another link.
		var stack []string
		if d := path.Dir(e.name); d != "." {
			stack = strings.Split(d, "/")
		}
		for _, part := range strings.Split(e.target, "/") {
			switch part {
			case "", ".":
				continue
			case "..":
				if len(stack) == 0 {
					return nil, fmt.Errorf("symlink %q -> %q points outside the archive: %w", clean(e.name), clean(e.target), ErrHostile)
				}
				stack = stack[:len(stack)-1]
				continue
			}
			stack = append(stack, part)
			if p := strings.Join(stack, "/"); links[p] {
				return nil, fmt.Errorf("symlink %q -> %q goes through the symlink %q: %w", clean(e.name), clean(e.target), clean(p), ErrHostile)
			}
		}
	}
	info := &Info{Files: c.n, Bytes: c.bytes}
	if single && root != "" && c.byName[root] != 'f' && c.byName[root] != 'l' && c.byName[root] != 'h' {
		info.Root = root
	}
	return info, nil
}

// checkName returns the cleaned relative name or an error.
func checkName(raw string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("entry %q: %s: %w", clean(raw), why, ErrHostile)
	}
	switch {
	case raw == "":
		return bad("empty name")
	case len(raw) > 4096:
		return bad("name too long")
	case strings.HasPrefix(raw, "/"):
		return bad("absolute path")
	case strings.ContainsRune(raw, '\\'):
		return bad("backslash in name")
	case len(raw) >= 2 && raw[1] == ':':
		return bad("drive letter")
	}
	for _, r := range raw {
		if r < 0x20 || r == 0x7f {
			return bad("control character in name")
		}
	}
	for _, part := range strings.Split(raw, "/") {
		if part == ".." {
			return bad("path traversal (..)")
		}
	}
	return path.Clean(raw), nil
}

// globalRecordOK are the PAX global header records CheckTarGz accepts:
// git archive writes "comment" (the commit id).
var globalRecordOK = map[string]bool{"comment": true, "mtime": true, "atime": true, "ctime": true}

// CheckTarGz validates a gzip-compressed tar stream of size bytes.
func CheckTarGz(r io.Reader, size int64, lim Limits) (*Info, error) {
	return checkTarGz(newChecker(lim, size), r)
}

func checkTarGz(c *checker, r io.Reader) (*Info, error) {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("not gzip: %w: %w", err, ErrCorrupt)
	}
	defer zr.Close()
	// Count every decompressed byte, headers and padding too: a bomb of
	// empty entries or of padding is still a bomb.
	cr := &countReader{r: zr, c: c}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if cr.err != nil {
			return nil, cr.err
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w: %w", err, ErrCorrupt)
		}
		var kind byte
		switch h.Typeflag {
		case tar.TypeXGlobalHeader:
			// A PAX global header (git archive's pax_global_header, so
			// GitHub's release tarballs) is no file. Its records apply to
			// every later entry in readers that honour them (Python's
			// tarfile), which Go's reader does not: only records that
			// change no name, link, size or owner are accepted.
			for k := range h.PAXRecords {
				if !globalRecordOK[k] {
					return nil, fmt.Errorf("global header sets %q for every entry: %w", clean(k), ErrHostile)
				}
			}
			continue
		case tar.TypeReg, tar.TypeRegA:
			kind = 'f'
		case tar.TypeDir:
			kind = 'd'
		case tar.TypeSymlink:
			kind = 'l'
		case tar.TypeLink:
			kind = 'h'
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return nil, fmt.Errorf("entry %q: device or fifo: %w", clean(h.Name), ErrHostile)
		default:
			return nil, fmt.Errorf("entry %q: unsupported type %q: %w", clean(h.Name), h.Typeflag, ErrHostile)
		}
		if h.Mode&(0o4000|0o2000) != 0 && kind == 'f' {
			return nil, fmt.Errorf("entry %q: setuid or setgid: %w", clean(h.Name), ErrHostile)
		}
		if err := c.add(h.Name, kind, h.Linkname); err != nil {
			return nil, err
		}
		if kind == 'f' && c.file != nil {
			if err := c.file(c.entries[len(c.entries)-1].name, h.Size, tr); err != nil {
				if cr.err != nil {
					return nil, cr.err
				}
				return nil, err
			}
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			if cr.err != nil {
				return nil, cr.err
			}
			return nil, fmt.Errorf("read tar entry %q: %w: %w", clean(h.Name), err, ErrCorrupt)
		}
	}
	// Trailing data after the tar end is decompressed and counted too.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		if cr.err != nil {
			return nil, cr.err
		}
		return nil, fmt.Errorf("read gzip: %w: %w", err, ErrCorrupt)
	}
	return c.finish()
}

// countReader counts decompressed bytes against the caps and fails the
// read as soon as one is passed.
type countReader struct {
	r   io.Reader
	c   *checker
	err error
}

func (cr *countReader) Read(p []byte) (int, error) {
	if cr.err != nil {
		return 0, cr.err
	}
	n, err := cr.r.Read(p)
	if cerr := cr.c.count(int64(n)); cerr != nil {
		cr.err = cerr
		return n, cerr
	}
	return n, err
}

// CheckZip validates a zip archive (a wheel) of size bytes.
func CheckZip(r io.ReaderAt, size int64, lim Limits) (*Info, error) {
	return checkZip(newChecker(lim, size), r, size)
}

func checkZip(c *checker, r io.ReaderAt, size int64) (*Info, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("read zip: %w: %w", err, ErrCorrupt)
	}
	if len(zr.File) > c.lim.Files {
		return nil, fmt.Errorf("more than %d entries: %w", c.lim.Files, ErrLimit)
	}
	for _, f := range zr.File {
		mode := f.Mode()
		var kind byte
		switch {
		case mode&fs.ModeSymlink != 0:
			kind = 'l'
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			kind = 'd'
		case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
			return nil, fmt.Errorf("entry %q: device, fifo or socket: %w", clean(f.Name), ErrHostile)
		case mode.IsRegular():
			kind = 'f'
		default:
			return nil, fmt.Errorf("entry %q: unsupported type: %w", clean(f.Name), ErrHostile)
		}
		if mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			return nil, fmt.Errorf("entry %q: setuid or setgid: %w", clean(f.Name), ErrHostile)
		}
		var target string
		if kind == 'l' {
			if f.UncompressedSize64 > 4096 {
				return nil, fmt.Errorf("symlink %q: target too long: %w", clean(f.Name), ErrHostile)
			}
			b, err := readEntry(f, c, 4096)
			if err != nil {
				return nil, err
			}
			target = string(b)
		}
		if err := c.add(f.Name, kind, target); err != nil {
			return nil, err
		}
		if kind == 'f' {
			if err := fileEntry(f, c); err != nil {
				return nil, err
			}
		}
	}
	return c.finish()
}

// fileEntry reads one regular zip member, through c.file if set.
func fileEntry(f *zip.File, c *checker) error {
	if c.file == nil {
		_, err := readEntry(f, c, -1)
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("entry %q: %w: %w", clean(f.Name), err, ErrCorrupt)
	}
	defer rc.Close()
	cr := &countReader{r: rc, c: c}
	if err := c.file(c.entries[len(c.entries)-1].name, int64(min(f.UncompressedSize64, 1<<62)), cr); err != nil {
		if cr.err != nil {
			return cr.err
		}
		return err
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		if cr.err != nil {
			return cr.err
		}
		return fmt.Errorf("entry %q: %w: %w", clean(f.Name), err, ErrCorrupt)
	}
	return nil
}

// readEntry decompresses one zip member, counting it; it keeps at most
// keep bytes (none if keep < 0).
func readEntry(f *zip.File, c *checker, keep int) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("entry %q: %w: %w", clean(f.Name), err, ErrCorrupt)
	}
	defer rc.Close()
	cr := &countReader{r: rc, c: c}
	var out []byte
	var w io.Writer = io.Discard
	var buf *limitedBuf
	if keep >= 0 {
		buf = &limitedBuf{n: keep}
		w = buf
	}
	if _, err := io.Copy(w, cr); err != nil {
		if cr.err != nil {
			return nil, cr.err
		}
		return nil, fmt.Errorf("entry %q: %w: %w", clean(f.Name), err, ErrCorrupt)
	}
	if buf != nil {
		out = buf.b
	}
	return out, nil
}

type limitedBuf struct {
	b []byte
	n int
}

func (l *limitedBuf) Write(p []byte) (int, error) {
	if len(l.b)+len(p) > l.n {
		return 0, errors.New("too long")
	}
	l.b = append(l.b, p...)
	return len(p), nil
}

// clean bounds a name for a message or report.
func clean(s string) string { return termsafe.Name(s, 120) }
