// Package treecopy moves a directory tree across the sandbox boundary as a
// tar stream, in both directions, without ever following a link.
//
// Pack walks a tree with Lstat and writes regular files, directories and
// symlinks (as symlink entries, never their targets). Unpack writes a stream
// into a directory it owns: every name is checked to stay inside it, no
// existing link is followed (each file is created with O_NOFOLLOW|O_EXCL
// below directories that Unpack itself made), and the total size and count
// are capped. What Unpack will not write (links, devices, names that escape,
// anything over a cap) is reported as skipped, never silently dropped.
package treecopy

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/moat-sandbox/moat/internal/termsafe"
)

// ErrLimit is returned (wrapped) when a stream exceeds the caps, or when
// Pack left something out because of them.
var ErrLimit = errors.New("size or count limit exceeded")

// ErrIncomplete is returned (wrapped) by Pack when it could not read
// something below root, and by Unpack when the sender said so or the
// stream ended before the sender's end record.
var ErrIncomplete = errors.New("not everything could be copied")

// Limits caps one transfer. Zero fields mean nothing may be transferred.
type Limits struct {
	Bytes int64 // total file content
	Files int   // entries of any kind
}

// Besides the tree, the stream carries moat's own records: PAX records
// (POSIX vendor keywords) on an entry "./" of type directory, which any tar
// reader takes as the top directory (a PAX global header would do, but
// Python's tarfile refuses one that ends the archive). One per entry left
// out ("MOAT.skip", "MOAT.why"; "MOAT.error" when it could not be read,
// with "MOAT.partial" when its content was already announced and has been
// padded with zeros), and a last one ("MOAT.end", with "MOAT.more": entries
// left out beyond those named, "MOAT.failed": how many could not be read,
// "MOAT.capped": how many a cap left out; a skip record of a cap's has
// "MOAT.cap").
// A stream without the end record is incomplete. Unpack takes them as
// untrusted text; PAX global headers are ignored (they are no files).
// bootstrap.py in internal/container writes the same stream.
const (
	recSkip    = "MOAT.skip"
	recWhy     = "MOAT.why"
	recError   = "MOAT.error"
	recPartial = "MOAT.partial"
	recEnd     = "MOAT.end"
	recMore    = "MOAT.more"
	recFailed  = "MOAT.failed"
	recCap     = "MOAT.cap"    // on a skip record: left out by a cap
	recCapped  = "MOAT.capped" // on the end record: how many a cap left out

	// maxListed entries left out are named, in the stream and in a
	// Report; the rest are counted.
	maxListed = 100
	// maxRecords bounds the records Unpack accepts from one stream.
	maxRecords = 4 * maxListed
)

// MaxDepth bounds how deep below the root Pack walks and Unpack writes:
// an entry more levels down is left out and named (a tree some thousand
// levels deep, past PATH_MAX, costs every path operation on it the
// whole depth, and a walk of it all runs to the timeout).
const MaxDepth = 256

// deeper says why an entry more than MaxDepth levels down is left out.
var deeper = fmt.Sprintf("deeper than %d levels: not copied", MaxDepth)

// Pack writes the tree below root to w. Nothing is left out silently: a
// file larger than what remains of lim.Bytes (judged by its size, so a
// sparse file counts what it would write), every entry past lim.Files, a
// special file, or one that cannot be read is named in the stream with the
// reason, and the walk goes on with the rest.
//
// The error is non-nil when w failed (the stream then lacks its end
// record), and when anything other than special files was left out:
// wrapping ErrLimit for the caps, else ErrIncomplete. The stream is
// complete in the second case; a copy-in treats it as a failure, a
// copy-out lets the receiver report it.
func Pack(w io.Writer, root string, lim Limits) error {
	p := &packer{tw: tar.NewWriter(w), lim: lim, root: root}
	err := filepath.WalkDir(root, p.visit)
	if err == nil {
		err = p.record(map[string]string{recEnd: "1", recMore: strconv.Itoa(p.more), recFailed: strconv.Itoa(p.failed), recCapped: strconv.Itoa(p.capped)})
	}
	if err == nil {
		err = p.tw.Close()
	}
	if err != nil {
		return fmt.Errorf("pack %s: %w", root, err)
	}
	switch {
	case p.capped > 0:
		return fmt.Errorf("pack %s: %d entries left out, first %s: %w", root, p.capped+p.failed, p.first, ErrLimit)
	case p.failed > 0:
		return fmt.Errorf("pack %s: %d entries could not be read, first %s: %w", root, p.failed, p.first, ErrIncomplete)
	}
	return nil
}

type packer struct {
	tw     *tar.Writer
	lim    Limits
	root   string
	buf    []byte
	total  int64 // content written
	n      int   // entries written
	listed int   // entries left out and named in the stream
	more   int   // entries left out beyond maxListed
	capped int   // left out because of a cap
	failed int   // left out because they could not be read
	first  string
}

type leaveKind int

const (
	leaveCap leaveKind = iota
	leaveSpecial
	leaveFailed
	leavePartial // failed after its header and part of its content went out
)

// record writes one of moat's own records.
func (p *packer) record(recs map[string]string) error {
	return p.tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, PAXRecords: recs, Format: tar.FormatPAX})
}

// leave names name in the stream as left out, or counts it once
// maxListed are named. A partial entry is always named: the receiver must
// remove what it wrote of it.
func (p *packer) leave(name, why string, kind leaveKind) error {
	switch kind {
	case leaveCap:
		p.capped++
	case leaveFailed, leavePartial:
		p.failed++
	}
	if p.first == "" && kind != leaveSpecial {
		p.first = clean(name) + " (" + why + ")"
	}
	if p.listed >= maxListed && kind != leavePartial {
		p.more++
		return nil
	}
	p.listed++
	recs := map[string]string{recSkip: name, recWhy: why}
	if kind == leaveCap {
		recs[recCap] = "1"
	}
	if kind == leaveFailed || kind == leavePartial {
		recs[recError] = "1"
	}
	if kind == leavePartial {
		recs[recPartial] = "1"
	}
	return p.record(recs)
}

// unreadable says why an entry could not be read, without its host path.
func unreadable(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "vanished during the copy"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return "could not be read: " + err.Error()
}

func (p *packer) visit(path string, d fs.DirEntry, err error) error {
	rel, rerr := filepath.Rel(p.root, path)
	if rerr != nil {
		return rerr
	}
	name := filepath.ToSlash(rel)
	if err != nil {
		if rel == "." {
			return err // the root itself
		}
		if d != nil && d.IsDir() {
			name += "/"
		}
		// Returning nil for a directory whose listing failed goes on
		// with its siblings.
		return p.leave(name, unreadable(err), leaveFailed)
	}
	if rel == "." {
		return nil
	}
	if strings.Count(name, "/") >= MaxDepth {
		// Named once, with what is below it: nothing under it is walked.
		if d.IsDir() {
			if err := p.leave(name+"/", deeper, leaveCap); err != nil {
				return err
			}
			return filepath.SkipDir
		}
		return p.leave(name, deeper, leaveCap)
	}
	info, err := d.Info() // Lstat semantics: WalkDir never follows links
	if err != nil {
		return p.leave(name, unreadable(err), leaveFailed)
	}
	mode := info.Mode()
	if mode.IsDir() {
		name += "/"
	}
	if !mode.IsRegular() && !mode.IsDir() && mode&fs.ModeSymlink == 0 {
		return p.leave(name, "special file not copied", leaveSpecial)
	}
	if p.n >= p.lim.Files {
		// Everything below a directory over the cap is walked and named
		// too.
		return p.leave(name, fmt.Sprintf("over the %d-file count cap", p.lim.Files), leaveCap)
	}
	var link string
	var f *os.File
	switch {
	case mode&fs.ModeSymlink != 0:
		if link, err = os.Readlink(path); err != nil {
			return p.leave(name, unreadable(err), leaveFailed)
		}
	case mode.IsRegular():
		// Opened before its header goes out, and sized by the open file.
		f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			return p.leave(name, unreadable(err), leaveFailed)
		}
		defer f.Close()
		if info, err = f.Stat(); err != nil {
			return p.leave(name, unreadable(err), leaveFailed)
		}
		if !info.Mode().IsRegular() {
			return p.leave(name, "special file not copied", leaveSpecial)
		}
		if info.Size() > p.lim.Bytes-p.total {
			return p.leave(name, fmt.Sprintf("%s, over the %s total cap", human(info.Size()), human(p.lim.Bytes)), leaveCap)
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return p.leave(name, err.Error(), leaveFailed)
	}
	hdr.Name = name
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	if err := p.tw.WriteHeader(hdr); err != nil {
		return err
	}
	p.n++
	if f == nil {
		return nil
	}
	p.total += hdr.Size
	// Exactly the size announced goes out: a file that grows is cut; one
	// that shrinks or fails to read is padded with zeros to keep the
	// stream whole, and named as failed so the receiver removes it.
	rerr, werr := p.copyExact(f, hdr.Size)
	if werr != nil {
		return fmt.Errorf("%s: %w", clean(name), werr)
	}
	if rerr != nil {
		return p.leave(name, unreadable(rerr), leavePartial)
	}
	return nil
}

// copyExact copies size bytes of f to the tar stream, padding with zeros
// when f ends early or fails.
func (p *packer) copyExact(f *os.File, size int64) (rerr, werr error) {
	if p.buf == nil {
		p.buf = make([]byte, 64<<10)
	}
	var done int64
	for done < size && rerr == nil {
		n, err := f.Read(p.buf[:min(int64(len(p.buf)), size-done)])
		if n > 0 {
			if _, err := p.tw.Write(p.buf[:n]); err != nil {
				return nil, err
			}
			done += int64(n)
		}
		switch {
		case err == io.EOF && done < size:
			rerr = errors.New("file shrank during the copy")
		case err != nil && err != io.EOF:
			rerr = err
		}
	}
	clear(p.buf)
	for done < size {
		n := min(int64(len(p.buf)), size-done)
		if _, err := p.tw.Write(p.buf[:n]); err != nil {
			return rerr, err
		}
		done += n
	}
	return rerr, nil
}

// human formats a byte count the way the README writes caps.
func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Report says what Unpack did.
type Report struct {
	Files int   // regular files written
	Dirs  int   // directories made
	Bytes int64 // content written
	// Skipped names what was left out, "name: reason", whether the sender
	// or Unpack left it out; at most 100 entries and a last one counting
	// the rest.
	Skipped []string

	more   int    // left out beyond those listed
	failed int    // entries the sender could not read
	capped int    // entries a size or count cap left out, the sender's or Unpack's
	cfirst string // the first of them
	first  string // the first of them
	// Entries that could not be written here (a full disk, a
	// permission): the copy is incomplete for a reason of the
	// receiving side, which a caller must not take for a cap or a name
	// refused.
	wfailed int
	wfirst  string
}

// unwritten records an entry Unpack could not create, listed as skipped
// and counted so that Unpack's error says the copy is incomplete.
func (r *Report) unwritten(name string, err error) {
	r.skip(name, err.Error())
	if errors.Is(err, fs.ErrExist) {
		// A name the stream already gave (never from Pack's walk of a
		// tree: a hostile sender's): the first stays, the copy is whole.
		return
	}
	if r.wfailed++; r.wfirst == "" {
		r.wfirst = clean(name) + " (" + clean(err.Error()) + ")"
	}
}

// capped1 counts an entry a cap left out.
func (r *Report) capped1(name, why string) {
	if r.capped++; r.cfirst == "" {
		r.cfirst = clean(name) + " (" + clean(why) + ")"
	}
}

func (r *Report) skip(name, why string) {
	if len(r.Skipped) < maxListed {
		r.Skipped = append(r.Skipped, clean(name)+": "+clean(why))
	} else {
		r.more++
	}
}

// clean bounds a name for a message or report.
func clean(s string) string { return termsafe.Name(s, 200) }

// Owner, if non-nil, is applied to everything Unpack creates.
type Owner struct{ UID, GID int }

// Options of Unpack. The zero value writes regular files and directories
// with printable UTF-8 names only, owned by the caller.
type Options struct {
	Owner *Owner
	// KeepLinks recreates symlinks as symlinks (never following one to
	// write). Only for moat's private staging directories, whose only
	// reader is Pack; never for a directory a person will open.
	KeepLinks bool
	// AnyNames writes names with control characters or bytes that are not
	// UTF-8. Only for a copy-in of the user's own tree; a copy-out refuses
	// them (listed as skipped, the name escaped) so that none reaches a
	// host terminal or script as is.
	AnyNames bool
	// Whole makes an entry left out by a size or count cap (the sender's
	// or Unpack's) an error wrapping ErrLimit: a workspace copied in is
	// the user's input, and a program run on part of it would give a
	// result that looks whole.
	Whole bool
}

// Unpack extracts the tar stream r, made by Pack, into dir, which must
// exist and should be empty. Symlinks (unless opt.KeepLinks), special
// files, names that are absolute or climb out with "..", names with control
// characters (unless opt.AnyNames) and files larger than what remains of
// lim.Bytes are left out and reported, and the extraction goes on.
//
// The error wraps ErrLimit when the stream breaks the caps in a way Pack
// never does (more than lim.Files entries, or more than lim.Bytes of
// content left out); ErrIncomplete when the sender could not read some
// entries or the stream ended before its end record. What was written
// stays, and the Report is filled in every case.
func Unpack(r io.Reader, dir string, lim Limits, opt Options) (*Report, error) {
	rep := &Report{}
	err := unpack(tar.NewReader(r), dir, lim, opt, rep)
	if rep.more > 0 {
		rep.Skipped = append(rep.Skipped, fmt.Sprintf("and %d more entries left out", rep.more))
	}
	if err == nil && rep.failed > 0 {
		err = fmt.Errorf("unpack: the sender could not read %d entries, first %s: %w", rep.failed, rep.first, ErrIncomplete)
	}
	if err == nil && rep.wfailed > 0 {
		err = fmt.Errorf("unpack: %d entries could not be written, first %s: %w", rep.wfailed, rep.wfirst, ErrIncomplete)
	}
	if err == nil && opt.Whole && rep.capped > 0 {
		err = fmt.Errorf("unpack: %d entries left out, first %s: %w", rep.capped, rep.cfirst, ErrLimit)
	}
	return rep, err
}

func unpack(tr *tar.Reader, dir string, lim Limits, opt Options, rep *Report) error {
	owner := opt.Owner
	entries, records := 0, 0
	var discarded int64
	// The last regular file written, removed if the sender says its
	// content was padded.
	var lastName, lastTarget string
	var lastSize int64
	var lastDir string // mkdirAll's
	leave := func(name, why string, n int64) error {
		rep.skip(name, why)
		if discarded += n; discarded > lim.Bytes {
			return fmt.Errorf("unpack: more than %d bytes left out: %w", lim.Bytes, ErrLimit)
		}
		return nil
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("unpack: the stream ended before its end record: %w", ErrIncomplete)
		}
		if err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		recs := hdr.PAXRecords
		_, isSkip := recs[recSkip]
		if recs[recEnd] != "" || isSkip {
			if records++; records > maxRecords {
				return fmt.Errorf("unpack: more than %d records: %w", maxRecords, ErrLimit)
			}
			if recs[recEnd] != "" {
				rep.more += count(recs[recMore])
				rep.failed = max(rep.failed, count(recs[recFailed]))
				rep.capped = max(rep.capped, count(recs[recCapped]))
				// Only the archive's end may follow.
				if _, err := tr.Next(); err != io.EOF && err == nil {
					return fmt.Errorf("unpack: entries after the end record: %w", ErrIncomplete)
				}
				return nil
			}
			if name, ok := recs[recSkip]; ok {
				why := recs[recWhy]
				if recs[recPartial] != "" && name == lastName && lastTarget != "" {
					if os.Remove(lastTarget) == nil {
						rep.Files--
						rep.Bytes -= lastSize
					}
					lastTarget = ""
				}
				if recs[recError] != "" {
					if rep.failed++; rep.first == "" {
						rep.first = clean(name) + " (" + clean(why) + ")"
					}
				}
				if recs[recCap] != "" {
					rep.capped1(name, why)
				}
				rep.skip(name, why)
			}
			continue
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // not a file
		}
		entries++
		if entries > lim.Files {
			return fmt.Errorf("unpack: more than %d entries: %w", lim.Files, ErrLimit)
		}
		var size int64
		if hdr.Typeflag == tar.TypeReg {
			size = hdr.Size
		}
		name, ok := safeName(hdr.Name)
		if !ok {
			if err := leave(hdr.Name, "path escapes the directory", size); err != nil {
				return err
			}
			continue
		}
		if !opt.AnyNames {
			if why := badName(hdr.Name); why != "" {
				if err := leave(hdr.Name, why, size); err != nil {
					return err
				}
				continue
			}
		}
		if strings.Count(name, "/") >= MaxDepth {
			if err := leave(hdr.Name, deeper, size); err != nil {
				return err
			}
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := mkdirAll(dir, name, owner, &lastDir); err != nil {
				rep.unwritten(hdr.Name, err)
				continue
			}
			rep.Dirs++
		case tar.TypeReg:
			if hdr.Size > lim.Bytes-rep.Bytes {
				why := fmt.Sprintf("%s, over the %s total cap", human(hdr.Size), human(lim.Bytes))
				if err := leave(hdr.Name, why, hdr.Size); err != nil {
					return err
				}
				rep.capped1(hdr.Name, why)
				continue
			}
			if err := mkdirAll(dir, path.Dir(name), owner, &lastDir); err != nil {
				rep.unwritten(hdr.Name, err)
				continue
			}
			n, err := writeFile(target, tr, hdr.Size, hdr.FileInfo().Mode().Perm(), owner)
			if err != nil {
				rep.unwritten(hdr.Name, err)
				continue
			}
			rep.Bytes += n
			rep.Files++
			lastName, lastTarget, lastSize = hdr.Name, target, n
		case tar.TypeSymlink:
			if !opt.KeepLinks {
				rep.skip(hdr.Name, "link not copied (links are never followed)")
				continue
			}
			if err := mkdirAll(dir, path.Dir(name), owner, &lastDir); err != nil {
				rep.unwritten(hdr.Name, err)
				continue
			}
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				rep.unwritten(hdr.Name, err)
				continue
			}
			if owner != nil {
				_ = os.Lchown(target, owner.UID, owner.GID)
			}
		case tar.TypeLink:
			rep.skip(hdr.Name, "hard link not copied (links are never followed)")
		default:
			if err := leave(hdr.Name, "special file not copied", size); err != nil {
				return err
			}
		}
	}
}

// count reads a count from a record, 0 when it is not one.
func count(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return min(n, 1<<30)
}

// badName says why a name may not be written on the host, or "".
func badName(n string) string {
	if !utf8.ValidString(n) {
		return "name is not valid UTF-8"
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "name has control characters"
		}
	}
	return ""
}

// safeName turns a tar name into a clean relative slash path, or reports
// that it escapes.
func safeName(n string) (string, bool) {
	if n == "" || strings.HasPrefix(n, "/") || strings.ContainsRune(n, 0) {
		return "", false
	}
	c := path.Clean(n)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return c, true
}

// mkdirAll creates rel below dir one component at a time with Mkdir and
// Lstat, refusing any component that exists as something other than a
// directory (a link planted earlier is never traversed). *last is the
// directory it made or checked last in this unpack (nothing but the
// unpack writes in dir, and a directory it checked stays one: files and
// links are made with O_EXCL): what is below it is checked from there,
// not from dir, so a deep tree costs each entry one step, not its depth.
func mkdirAll(dir, rel string, owner *Owner, last *string) error {
	if rel == "." || rel == "" {
		return nil
	}
	cur, todo := dir, rel
	switch {
	case rel == *last || strings.HasPrefix(*last, rel+"/"):
		return nil
	case *last != "" && strings.HasPrefix(rel, *last+"/"):
		cur, todo = filepath.Join(dir, filepath.FromSlash(*last)), rel[len(*last)+1:]
	}
	for _, part := range strings.Split(todo, "/") {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s exists and is not a directory", part)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Mkdir(cur, 0o755); err != nil {
			return err
		}
		if owner != nil {
			if err := os.Lchown(cur, owner.UID, owner.GID); err != nil {
				return err
			}
		}
	}
	*last = rel
	return nil
}

func writeFile(target string, r io.Reader, size int64, perm fs.FileMode, owner *Owner) (int64, error) {
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, perm&0o755|0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.CopyN(f, r, size)
	if err == nil && owner != nil {
		err = f.Chown(owner.UID, owner.GID)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// A part of a file (a full disk) is not left for a copy of it:
		// the file is listed as not written.
		_ = os.Remove(target)
		return 0, err
	}
	return n, nil
}

// Copy packs the tree at src into dst on this host, through a pipe: the
// same walk and checks as across the sandbox boundary, no link followed.
// Pack's error comes apart from Unpack's: what Pack left out is in the
// Report too. dst is made if missing.
func Copy(src, dst string, lim Limits, opt Options) (rep *Report, unpackErr, packErr error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return &Report{}, err, nil
	}
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := Pack(pw, src, lim)
		pw.Close() // a failed Pack lacks its end record: Unpack says so
		errc <- err
	}()
	rep, unpackErr = Unpack(pr, dst, lim, opt)
	_, _ = io.Copy(io.Discard, pr)
	return rep, unpackErr, <-errc
}
