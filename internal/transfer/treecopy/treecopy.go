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
	"strings"
	"syscall"

	"github.com/moat-sandbox/moat/internal/termsafe"
)

// ErrLimit is returned (wrapped) when a stream exceeds the caps.
var ErrLimit = errors.New("size or count limit exceeded")

// Limits caps one transfer. Zero fields mean nothing may be transferred.
type Limits struct {
	Bytes int64 // total file content
	Files int   // entries of any kind
}

// Pack writes the tree below root to w. It stops with an error wrapping
// ErrLimit when the caps would be exceeded.
func Pack(w io.Writer, root string, lim Limits) error {
	tw := tar.NewWriter(w)
	var total int64
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		info, err := d.Info() // Lstat semantics: WalkDir never follows links
		if err != nil {
			return err
		}
		n++
		if n > lim.Files {
			return fmt.Errorf("more than %d files: %w", lim.Files, ErrLimit)
		}
		var link string
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		if !info.Mode().IsRegular() && !info.IsDir() && info.Mode()&fs.ModeSymlink == 0 {
			return nil // sockets, fifos, devices: nothing to carry
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if info.Mode().IsRegular() {
			total += info.Size()
			if total > lim.Bytes {
				return fmt.Errorf("more than %d bytes: %w", lim.Bytes, ErrLimit)
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		// Copy exactly the size announced: a file that grows is cut, one
		// that shrinks fails the stream rather than desynchronising it.
		if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pack %s: %w", root, err)
	}
	return tw.Close()
}

// Report says what Unpack did.
type Report struct {
	Files   int      // regular files written
	Dirs    int      // directories made
	Bytes   int64    // content written
	Skipped []string // "name: reason", capped at 100 entries
}

func (r *Report) skip(name, why string) {
	if len(r.Skipped) < 100 {
		r.Skipped = append(r.Skipped, clean(name)+": "+why)
	}
}

// clean bounds a name for a message or report.
func clean(s string) string { return termsafe.Name(s, 200) }

// Owner, if non-nil, is applied to everything Unpack creates.
type Owner struct{ UID, GID int }

// Options of Unpack. The zero value writes regular files and directories
// only, owned by the caller.
type Options struct {
	Owner *Owner
	// KeepLinks recreates symlinks as symlinks (never following one to
	// write). Only for moat's private staging directories, whose only
	// reader is Pack; never for a directory a person will open.
	KeepLinks bool
}

// Unpack extracts the tar stream r into dir, which must exist and should be
// empty. Symlinks (unless opt.KeepLinks) and special files are skipped and
// reported; names that
// are absolute or climb out with ".." are skipped. Exceeding lim stops the
// extraction with an error wrapping ErrLimit; what was written stays.
func Unpack(r io.Reader, dir string, lim Limits, opt Options) (*Report, error) {
	owner := opt.Owner
	rep := &Report{}
	tr := tar.NewReader(r)
	entries := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return rep, nil
		}
		if err != nil {
			return rep, fmt.Errorf("unpack: %w", err)
		}
		entries++
		if entries > lim.Files {
			return rep, fmt.Errorf("unpack: more than %d entries: %w", lim.Files, ErrLimit)
		}
		name, ok := safeName(hdr.Name)
		if !ok {
			rep.skip(hdr.Name, "path escapes the directory")
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := mkdirAll(dir, name, owner); err != nil {
				rep.skip(hdr.Name, err.Error())
				continue
			}
			rep.Dirs++
		case tar.TypeReg:
			if rep.Bytes+hdr.Size > lim.Bytes {
				rep.skip(hdr.Name, "over the size cap")
				return rep, fmt.Errorf("unpack: more than %d bytes: %w", lim.Bytes, ErrLimit)
			}
			if err := mkdirAll(dir, path.Dir(name), owner); err != nil {
				rep.skip(hdr.Name, err.Error())
				continue
			}
			n, err := writeFile(target, tr, hdr.Size, hdr.FileInfo().Mode().Perm(), owner)
			rep.Bytes += n
			if err != nil {
				rep.skip(hdr.Name, err.Error())
				continue
			}
			rep.Files++
		case tar.TypeSymlink:
			if !opt.KeepLinks {
				rep.skip(hdr.Name, "link not copied (links are never followed)")
				continue
			}
			if err := mkdirAll(dir, path.Dir(name), owner); err != nil {
				rep.skip(hdr.Name, err.Error())
				continue
			}
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				rep.skip(hdr.Name, err.Error())
				continue
			}
			if owner != nil {
				_ = os.Lchown(target, owner.UID, owner.GID)
			}
		case tar.TypeLink:
			rep.skip(hdr.Name, "hard link not copied (links are never followed)")
		default:
			rep.skip(hdr.Name, "special file not copied")
		}
	}
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
// directory (a link planted earlier is never traversed).
func mkdirAll(dir, rel string, owner *Owner) error {
	if rel == "." || rel == "" {
		return nil
	}
	cur := dir
	for _, part := range strings.Split(rel, "/") {
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
	return n, err
}
