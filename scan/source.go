package scan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/moat-sandbox/moat/internal/termsafe"
	"github.com/moat-sandbox/moat/internal/transfer/archive"

	"github.com/moat-sandbox/moat/internal/transfer/capture"
)

// ErrTarget marks a target that cannot be scanned: missing, unreadable,
// hostile or over the limits. The CLI exits 125 with the message.
var ErrTarget = errors.New("cannot scan target")

// Bounds of what a scan holds in memory.
const (
	maxFileBytes  = 4 << 20   // kept of one file (the rest is hashed, not read by the checks)
	maxTotalBytes = 256 << 20 // kept of all files together; beyond, only heads
	headBytes     = 4096      // kept of a file once the total is reached
	maxDirFiles   = 50000     // files of a project directory
	maxDirBytes   = 1 << 30   // bytes of a project directory
)

// file is one regular file of the package.
type file struct {
	name   string // relative to the package's root (an sdist's top directory stripped)
	data   []byte // its first bytes (at most maxFileBytes)
	size   int64
	sha256 string
}

// pkg is the package as read.
type pkg struct {
	kind   string
	file   string // the archive's or requirements file's base name
	root   string // an sdist's top directory
	files  []*file
	byName map[string]*file
	bytes  int64
	kept   int64
	meta   meta
}

func (p *pkg) add(name string, size int64, r io.Reader) error {
	f := &file{name: name, size: size}
	keep := int64(maxFileBytes)
	if p.kept >= maxTotalBytes {
		keep = headBytes
	}
	h := sha256.New()
	var buf bytes.Buffer
	n, err := io.Copy(io.MultiWriter(h, &capture.Head{W: &buf, N: keep}), r)
	if err != nil {
		return err
	}
	f.size, f.data, f.sha256 = n, buf.Bytes(), hex.EncodeToString(h.Sum(nil))
	p.kept += int64(len(f.data))
	p.bytes += n
	p.files = append(p.files, f)
	p.byName[name] = f
	return nil
}

// load reads the target into memory.
func load(t Target) (*pkg, error) {
	p := &pkg{kind: t.Kind, file: filepath.Base(t.Path), root: t.Root, byName: map[string]*file{}}
	switch t.Kind {
	case KindSdist, KindWheel:
		_, err := archive.ReadFile(t.Path, archive.Limits{}, func(name string, size int64, r io.Reader) error {
			if t.Kind == KindSdist && t.Root != "" {
				rest, ok := strings.CutPrefix(name, t.Root+"/")
				if !ok {
					return nil
				}
				name = rest
			}
			return p.add(name, size, r)
		})
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w: %w", t.Kind, clean(p.file), err, ErrTarget)
		}
	case KindProject:
		if err := p.walk(t.Path); err != nil {
			return nil, fmt.Errorf("project %s: %w: %w", clean(t.Path), err, ErrTarget)
		}
	case KindRequirements:
		f, err := openRegular(t.Path)
		if err != nil {
			return nil, fmt.Errorf("requirements %s: %w: %w", clean(t.Path), err, ErrTarget)
		}
		defer f.Close()
		if err := p.add(p.file, 0, io.LimitReader(f, 1<<20)); err != nil {
			return nil, fmt.Errorf("requirements %s: %w: %w", clean(t.Path), err, ErrTarget)
		}
	default:
		return nil, fmt.Errorf("target kind %q: %w", t.Kind, ErrTarget)
	}
	p.readMeta()
	return p, nil
}

// skipDirs are not part of a project's package.
var skipDirs = map[string]bool{".git": true, ".hg": true, ".svn": true, ".venv": true, "venv": true, ".tox": true,
	".nox": true, "__pycache__": true, "node_modules": true, ".mypy_cache": true, ".pytest_cache": true}

// walk reads a project directory: regular files only, no link followed
// (a link is neither read nor descended into), within bounds.
func (p *pkg) walk(dir string) error {
	n := 0
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, rerr := filepath.Rel(dir, path)
		if rerr != nil {
			return rerr
		}
		if d.IsDir() {
			if path != dir && skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // links, devices: never followed or read
		}
		if n++; n > maxDirFiles {
			return fmt.Errorf("more than %d files", maxDirFiles)
		}
		f, err := openRegular(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := p.add(filepath.ToSlash(rel), 0, f); err != nil {
			return err
		}
		if p.bytes > maxDirBytes {
			return fmt.Errorf("more than %d bytes", maxDirBytes)
		}
		return nil
	})
}

// openRegular opens a regular file without following a link.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", clean(filepath.Base(path)))
	}
	return f, nil
}

// clean bounds and escapes a name from the package for a message.
func clean(s string) string { return termsafe.Name(s, 160) }
