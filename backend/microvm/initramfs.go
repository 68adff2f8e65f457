package microvm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
)

// imageFormat changes whenever what the images hold changes, so
// that cached images of the old layout are not used (4: no /moat, no
// sandbox user; the persona is the agent's, per run).
const imageFormat = 4

// runtimeLayout changes whenever what a runtime image of the host's
// interpreter holds changes (3: the interpreter's other names; 4: the
// host files' modification times kept; 5: the libraries of every staged
// ELF file; 6: /var, /mnt, /srv, /media; 7: /etc/os-release; 8:
// /usr/share/zoneinfo).
const runtimeLayout = 8

// zoneinfo is the time zone database (pyrt binds the same on native).
const zoneinfo = "/usr/share/zoneinfo"

// Guest paths.
const (
	guestInit    = "/init"
	guestNewRoot = "/newroot"
	guestModDir  = "/lib/modules" // in the initramfs, gone with it
	guestWork    = "/work"
	guestTmp     = "/tmp"
	// guestHomes holds the persona's home (Persona.Home), on a tmpfs of
	// its own the agent makes read-only around it.
	guestHomes = "/home"
	// guestScratch is where the agent mounts the run's one tmpfs (the
	// disk) while it binds its directories out (setupDisk), and then
	// unmounts it: an ordinary machine's empty /mnt.
	guestScratch = "/mnt"
	// guestHookRoot is the FIFO's directory the runtime image's .pth line
	// names, which no run uses: each binds a .pth line naming its own
	// (GuestReport.Tools, a directory that does not exist in the image).
	guestHookRoot = "/opt/tools"
	sandboxID     = 1000
)

// skipStdlib are top-level names of the standard library directory left
// out of the guest: the test suite, IDLE and Tk (no display), the build
// configuration, and site-packages (the host's third-party packages are
// not the program's; a workspace or an image brings its own).
func skipStdlib(name string) bool {
	switch name {
	case "test", "idlelib", "tkinter", "turtledemo", "site-packages", "dist-packages":
		return true
	}
	return strings.HasPrefix(name, "config-")
}

// etcFiles are the runtime image's /etc besides ld.so.cache; the agent
// adds the run's persona (personaEtc).
func etcFiles() map[string]string {
	return map[string]string{
		"passwd":   "root:x:0:0:root:/root:/bin/bash\n",
		"group":    "root:x:0:\n",
		"hosts":    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"hostname": "localhost\n",
	}
}

// fileKey hashes the identity (path, size, change time) of files.
func fileKey(prefix string, paths []string, extra []byte) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s format %d\n", prefix, imageFormat)
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
	}
	h.Write(extra)
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// cached returns dir/name, made by build into a temporary file the first
// time (a later call finds it by its name). Files of the same kind not
// used for an hour are removed.
func cached(dir, kind, key, ext string, build func(tmp string) error) (string, error) {
	p := filepath.Join(dir, kind+"-"+key+ext)
	if _, err := os.Stat(p); err == nil {
		now := time.Now()
		_ = os.Chtimes(p, now, now)
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, "."+kind+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "out")
	if err := build(out); err != nil {
		return "", fmt.Errorf("%s: %w", kind, err)
	}
	if err := os.Rename(out, p); err != nil {
		return "", err
	}
	old, _ := filepath.Glob(filepath.Join(dir, kind+"-*"+ext))
	for _, o := range old {
		if fi, err := os.Stat(o); err == nil && o != p && time.Since(fi.ModTime()) > time.Hour {
			_ = os.RemoveAll(o)
		}
	}
	return p, nil
}

// initramfs returns the guest's initramfs for this binary and kernel.
func initramfs(dir, self string, k *Kernel) (string, error) {
	key, err := fileKey("initramfs", append([]string{self}, k.Modules...), nil)
	if err != nil {
		return "", fmt.Errorf("initramfs: %w", err)
	}
	return cached(dir, "initrd", key, ".cpio", func(out string) error {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		err = writeInitramfs(bw, self, k)
		if err == nil {
			err = bw.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// runtimeImage returns the guest's root file system for rt, a squashfs
// image (uncompressed: under emulation, decompressing costs more than
// reading) built with mksquashfs, keyed by the runtime (which pyrt's cache
// guards by the interpreter's identity) and its standard library's
// change times.
func runtimeImage(ctx context.Context, dir string, rt *pyrt.Runtime, ul *pyrt.Userland) (string, error) {
	b, err := json.Marshal(rt)
	if err != nil {
		return "", err
	}
	idents := rt.Stdlib()
	// runtimeLayout changes with what writeRuntime puts in (the images
	// of the docker export keep imageFormat).
	b = append(b, fmt.Sprintf("\x00layout %d", runtimeLayout)...)
	var ulFiles []string
	if ul != nil {
		if ulFiles, err = ul.Files(); err != nil {
			return "", fmt.Errorf("runtime image: %w", err)
		}
		idents = append(idents, ulFiles...)
		b = append(b, []byte("\x00userland\x00"+strings.Join(ulFiles, "\x00"))...)
	}
	if ul != nil {
		for _, d := range rt.SiteDirs {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				idents = append(idents, d)
			}
		}
	}
	b = append(b, "\x00startup\x00"+audit.StartupCode+audit.StartupLoader(hookSite(rt))...)
	key, err := fileKey("runtime", idents, append(b, audit.Hook()...))
	if err != nil {
		return "", fmt.Errorf("runtime image: %w", err)
	}
	return cached(dir, "runtime", key, ".squashfs", func(out string) error {
		root := out + ".root"
		if err := os.Mkdir(root, 0o755); err != nil {
			return err
		}
		if err := stageRuntime(root, rt, ul != nil, ulFiles); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "mksquashfs", root, out, "-noappend", "-all-root", "-no-xattrs", "-noI", "-noD", "-noF", "-noX", "-quiet", "-no-progress")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("mksquashfs: %w: %s", err, strings.TrimSpace(string(b[:min(len(b), 500)])))
		}
		return nil
	})
}

// stageRuntime writes the runtime image's tree into the directory root:
// the runtime, the audit hook, the site directories if sites, the files
// of a userland, and then every shared library that an ELF file of all
// these needs (stageLibraries).
func stageRuntime(root string, rt *pyrt.Runtime, sites bool, ulFiles []string) error {
	s := &stage{root: root, seen: map[string]bool{}}
	// Before the runtime's files: the first of a path is the one staged.
	writeStartup(s, rt)
	if err := writeRuntime(s, rt); err != nil {
		return err
	}
	if err := writeHook(s, rt); err != nil {
		return err
	}
	if sites {
		if err := writeSites(s, rt); err != nil {
			return err
		}
	}
	for _, p := range ulFiles {
		if err := hostFile(s, p, 0); err != nil {
			return fmt.Errorf("userland file %s: %w", p, err)
		}
	}
	return stageLibraries(s, rt, maxStagedLibraries)
}

// maxStagedLibraries bounds the bytes of the libraries stageLibraries adds
// to an image: a site directory whose modules pull in a toolkit's worth
// (LLVM, CUDA...) is refused with their size rather than filling the
// cache directory.
const maxStagedLibraries = 512 << 20

// maxStagedEntries bounds the entries of an image looked at for ELF files
// (this host's Debian Python with its dist-packages: some 28,500).
const maxStagedEntries = 500_000

// stageLibraries copies into s every shared library that an ELF file
// staged so far needs and s lacks, transitively (pyrt's walk, as the
// loader would find it on the host, the links on the way kept): the
// extension modules of site directories and lib-dynload need libraries
// the interpreter does not (the _brotli module libstdc++, nacl's _sodium
// libsodium, numpy libblas through /etc/alternatives), and would fail to
// import in the guest without them. More than limit bytes of them is an
// error naming the largest. A soname the host lacks too is left missing
// (the module fails on the host alike).
func stageLibraries(s *stage, rt *pyrt.Runtime, limit int64) error {
	var objects []string
	for _, p := range pyrt.ELFObjects([]string{s.root}, maxStagedEntries) {
		objects = append(objects, strings.TrimPrefix(p, s.root))
	}
	slices.Sort(objects)
	libs, missing, err := rt.LibrariesOf(objects)
	if err != nil {
		return fmt.Errorf("shared libraries: %w", err)
	}
	var add []string
	var total, largest int64
	var largestPath string
	for _, l := range libs {
		real, err := filepath.EvalSymlinks(l)
		if err != nil || s.seen[real] {
			continue
		}
		fi, err := os.Stat(real)
		if err != nil {
			return fmt.Errorf("shared library %s: %w", l, err)
		}
		add = append(add, l)
		total += fi.Size()
		if fi.Size() > largest {
			largest, largestPath = fi.Size(), l
		}
	}
	if total > limit {
		return fmt.Errorf("the shared libraries of the copied extension modules come to %d MiB, over the cap of %d MiB (largest %s, %d MiB)", total>>20, limit>>20, largestPath, largest>>20)
	}
	for _, l := range add {
		if err := hostFile(s, l, 0); err != nil {
			return fmt.Errorf("shared library %s: %w", l, err)
		}
	}
	if len(missing) > 0 {
		slog.Debug("microvm: sonames the host lacks too", "missing", missing)
	}
	return nil
}

// writeSites copies rt's site directories that exist (after the hook, so
// that a file of the host's never takes the hook's name): the host's
// third-party packages, as native shows them (its bind of the prefix holds
// them), so that `moat test`'s venv (--system-site-packages) has the
// distribution's pip, setuptools, wheel and pytest. Only with the
// userland (on in `moat test`): their .pth files run at every start of
// Python, which under emulation costs seconds (one of this host's imports
// certifi: 3-7s at load 35), so a plain run leaves them out. Set-uid bits are
// dropped as everywhere; the libraries their extension modules need are
// added after (stageLibraries).
func writeSites(s sink, rt *pyrt.Runtime) error {
	for _, d := range rt.SiteDirs {
		real, err := filepath.EvalSymlinks(d)
		if err != nil {
			continue // a site directory that does not exist
		}
		if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
			continue
		}
		if real != d {
			if err := hostFile(s, d, 0); err != nil {
				return fmt.Errorf("site directory %s: %w", d, err)
			}
		}
		if err := tree(s, real, nil); err != nil {
			return fmt.Errorf("site directory %s: %w", d, err)
		}
	}
	return nil
}

// sink is where a root file system is written: a cpio archive (the
// initramfs) or a staging directory (the runtime image).
type sink interface {
	dir(p string, mode fs.FileMode) error
	file(p string, mode fs.FileMode, r io.ReaderAt, size int64) error
	symlink(p, target string) error
}

// archive writes a cpio (newc) stream, each path once, parents first.
type archive struct {
	w    cpio.RecordWriter
	seen map[string]bool
	ino  uint64
}

func (a *archive) record(r cpio.Record) error {
	a.ino++
	r.Ino, r.NLink = a.ino, 1
	return a.w.WriteRecord(r)
}

// claim marks p as written, after its parent directories; false if it was
// already.
func (a *archive) claim(p string) (bool, error) {
	if a.seen[p] {
		return false, nil
	}
	if err := a.dir(filepath.Dir(p), 0o755); err != nil {
		return false, err
	}
	a.seen[p] = true
	return true, nil
}

func (a *archive) dir(p string, mode fs.FileMode) error {
	p = filepath.Clean(p)
	if p == "/" {
		return nil
	}
	if ok, err := a.claim(p); !ok {
		return err
	}
	return a.record(cpio.Directory(strings.TrimPrefix(p, "/"), uint64(unixPerm(mode))))
}

func (a *archive) file(p string, mode fs.FileMode, r io.ReaderAt, size int64) error {
	p = filepath.Clean(p)
	if ok, err := a.claim(p); !ok {
		return err
	}
	return a.record(cpio.Record{ReaderAt: io.NewSectionReader(r, 0, size), Info: cpio.Info{
		Name: strings.TrimPrefix(p, "/"), Mode: cpio.S_IFREG | uint64(unixPerm(mode)&0o1777), FileSize: uint64(size)}})
}

func (a *archive) symlink(p, target string) error {
	p = filepath.Clean(p)
	if ok, err := a.claim(p); !ok {
		return err
	}
	return a.record(cpio.Symlink(strings.TrimPrefix(p, "/"), target))
}

func (a *archive) charDev(p string, mode fs.FileMode, major, minor uint64) error {
	if ok, err := a.claim(p); !ok {
		return err
	}
	return a.record(cpio.CharDev(strings.TrimPrefix(p, "/"), uint64(mode.Perm()), major, minor))
}

// unixPerm is mode's permission and sticky bits as Linux spells them;
// set-uid and set-gid are dropped.
func unixPerm(mode fs.FileMode) uint32 {
	m := uint32(mode.Perm())
	if mode&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

// copyHostFile writes the host file f (at p, described by fi) to a; a
// staged image keeps its modification time: Python trusts a .pyc only
// while its source keeps the time recorded in it, and on the read-only
// root a stale one is recompiled at every import of every run.
func copyHostFile(a sink, p string, fi fs.FileInfo, f *os.File) error {
	if err := a.file(p, fi.Mode(), f, fi.Size()); err != nil {
		return err
	}
	if s, ok := a.(*stage); ok {
		return os.Chtimes(filepath.Join(s.root, filepath.Clean(p)), fi.ModTime(), fi.ModTime())
	}
	return nil
}

// hostFile copies the host file at p (absolute) to the same path,
// reproducing every symlink on the way as a symlink, so that the loader
// and Python find what they find on the host. Set-uid and set-gid bits
// are dropped. depth bounds chains of links.
func hostFile(a sink, p string, depth int) error {
	if depth > 40 {
		return fmt.Errorf("%s: too many links", p)
	}
	p = filepath.Clean(p)
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for i, part := range parts {
		next := filepath.Join(cur, part)
		fi, err := os.Lstat(next)
		if err != nil {
			return err
		}
		rest := filepath.Join(parts[i+1:]...)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(next)
			if err != nil {
				return err
			}
			if err := a.symlink(next, target); err != nil {
				return err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			return hostFile(a, filepath.Join(target, rest), depth+1)
		case fi.IsDir():
			if rest == "" {
				return a.dir(next, fi.Mode())
			}
			if err := a.dir(next, 0o755); err != nil {
				return err
			}
		case fi.Mode().IsRegular() && rest == "":
			f, err := os.Open(next)
			if err != nil {
				return err
			}
			defer f.Close()
			return copyHostFile(a, next, fi, f)
		default:
			return nil // not a file, or a file in the middle of the path
		}
		cur = next
	}
	return nil
}

// tree copies the directory d (real path) below, regular files, dirs and
// symlinks only, skipping the top-level names skip says so.
func tree(a sink, d string, skip func(string) bool) error {
	return filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != d && filepath.Dir(p) == d && skip != nil && skip(e.Name()) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case e.IsDir():
			return a.dir(p, fi.Mode())
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return a.symlink(p, t)
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return copyHostFile(a, p, fi, f)
		}
		return nil
	})
}

// writeInitramfs writes the initramfs: moat's binary as /init, the
// modules, /dev/console and /dev/null, and the mount point of the runtime
// image, which becomes the root.
func writeInitramfs(w io.Writer, self string, k *Kernel) error {
	a := &archive{w: cpio.Newc.Writer(w), seen: map[string]bool{}}
	for _, d := range []string{"/dev", "/proc", "/sys", guestNewRoot} {
		if err := a.dir(d, 0o755); err != nil {
			return err
		}
	}
	// The kernel opens /dev/console of the initramfs for init's output
	// (and Go's runtime wants fds 0-2 open, or /dev/null).
	if err := a.charDev("/dev/console", 0o600, 5, 1); err != nil {
		return err
	}
	if err := a.charDev("/dev/null", 0o666, 1, 3); err != nil {
		return err
	}
	for i, p := range append([]string{self}, k.Modules...) {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err == nil {
			dst := guestInit
			if i > 0 {
				dst = fmt.Sprintf("%s/%02d-%s", guestModDir, i, filepath.Base(p))
			}
			err = a.file(dst, 0o755, f, fi.Size())
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return cpio.WriteTrailer(a.w)
}

// stage writes a root into a host directory, for mksquashfs.
type stage struct {
	root string
	seen map[string]bool
}

func (s *stage) claim(p string) (string, bool, error) {
	p = filepath.Clean(p)
	if s.seen[p] {
		return "", false, nil
	}
	if err := s.dir(filepath.Dir(p), 0o755); err != nil {
		return "", false, err
	}
	s.seen[p] = true
	return filepath.Join(s.root, p), true, nil
}

func (s *stage) dir(p string, mode fs.FileMode) error {
	if filepath.Clean(p) == "/" {
		return nil
	}
	dst, ok, err := s.claim(p)
	if !ok {
		return err
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	return os.Chmod(dst, mode&(fs.ModePerm|fs.ModeSticky))
}

func (s *stage) file(p string, mode fs.FileMode, r io.ReaderAt, size int64) error {
	dst, ok, err := s.claim(p)
	if !ok {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(f, io.NewSectionReader(r, 0, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *stage) symlink(p, target string) error {
	dst, ok, err := s.claim(p)
	if !ok {
		return err
	}
	return os.Symlink(target, dst)
}

// writeRuntime writes the guest's root file system: the mount points,
// /etc, and the runtime (executable, libraries, standard library) at its
// host paths.
func writeRuntime(s sink, rt *pyrt.Runtime) error {
	for _, d := range []struct {
		p    string
		mode fs.FileMode
	}{{"/dev", 0o755}, {"/proc", 0o555}, {"/sys", 0o555}, {"/etc", 0o755}, {"/run", 0o755}, {guestWork, 0o755}, {guestTmp, 0o777 | fs.ModeSticky}, {guestHomes, 0o755}, {guestScratch, 0o755},
		// The directories every Linux root has (red team, session 19),
		// empty and read-only.
		{"/var", 0o755}, {"/var/tmp", 0o777 | fs.ModeSticky}, {"/var/lib", 0o755}, {"/var/cache", 0o755}, {"/mnt", 0o755}, {"/srv", 0o755}, {"/media", 0o755}} {
		if err := s.dir(d.p, d.mode); err != nil {
			return err
		}
	}
	for name, content := range etcFiles() {
		if err := s.file("/etc/"+name, 0o644, strings.NewReader(content), int64(len(content))); err != nil {
			return err
		}
	}
	libs, interp, err := rt.Libraries()
	if err != nil {
		return fmt.Errorf("python libraries: %w", err)
	}
	files := []string{rt.Command, rt.Executable}
	if interp != "" {
		files = append(files, interp)
	}
	files = append(files, libs...)
	if _, err := os.Stat("/etc/ld.so.cache"); err == nil {
		files = append(files, "/etc/ld.so.cache")
	}
	// The host's os-release, as pyrt binds it (with the links on its
	// way: Debian's is a link to /usr/lib/os-release).
	if fi, err := os.Stat("/etc/os-release"); err == nil && fi.Mode().IsRegular() {
		files = append(files, "/etc/os-release")
	}
	for _, p := range files {
		if err := hostFile(s, p, 0); err != nil {
			return fmt.Errorf("runtime file %s: %w", p, err)
		}
	}
	for _, p := range interpreterNames(rt) {
		if err := hostFile(s, p, 0); err != nil {
			return fmt.Errorf("runtime file %s: %w", p, err)
		}
	}
	for _, d := range rt.Stdlib() {
		if err := tree(s, d, skipStdlib); err != nil {
			return fmt.Errorf("standard library %s: %w", d, err)
		}
	}
	// The time zone database, as pyrt binds it (not the host's own
	// /etc/localtime: the guest's clock is UTC).
	if fi, err := os.Stat(zoneinfo); err == nil && fi.IsDir() {
		if err := tree(s, zoneinfo, nil); err != nil {
			return fmt.Errorf("time zones %s: %w", zoneinfo, err)
		}
	}
	for l, t := range rt.Links {
		if _, err := os.Lstat(l); err == nil {
			if err := s.symlink(l, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// interpreterNames are the other names of rt's interpreter beside it
// (python3, python, pythonX.Y in the directories of its command and its
// executable) that are links reaching the executable, as the host has
// them: `#!/usr/bin/env python3` finds one, as on native.
func interpreterNames(rt *pyrt.Runtime) []string {
	var out []string
	names := []string{"python3", "python"}
	if v := strings.Split(rt.Version, "."); len(v) >= 2 {
		names = append(names, "python"+v[0]+"."+v[1])
	}
	for _, d := range []string{filepath.Dir(rt.Command), filepath.Dir(rt.Executable)} {
		for _, n := range names {
			p := filepath.Join(d, n)
			if fi, err := os.Lstat(p); err != nil || fi.Mode()&fs.ModeSymlink == 0 || slices.Contains(out, p) {
				continue
			}
			if real, err := filepath.EvalSymlinks(p); err == nil && real == rt.Executable {
				out = append(out, p)
			}
		}
	}
	return out
}

// hookSite is the site directory of rt where the runtime image carries
// the audit hook as a .pth line and its module (audit.PthFile,
// audit.Module), so that nothing is on PYTHONPATH in the guest: the
// interpreter's first site directory, if no part of its path is a
// symbolic link on the host or in rt.Links (the stage would follow it).
// "" if there is none: the hook then goes on PYTHONPATH.
func hookSite(rt *pyrt.Runtime) string {
	if len(rt.SiteDirs) == 0 {
		return ""
	}
	d := rt.SiteDirs[0]
	if !filepath.IsAbs(d) || filepath.Clean(d) != d || d == "/" {
		return ""
	}
	for p := d; p != "/"; p = filepath.Dir(p) {
		if _, ok := rt.Links[p]; ok {
			return ""
		}
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return ""
		}
	}
	return d
}

// writeHook puts the audit hook in hookSite(rt) of the runtime image: its
// module, the module's bytecode for rt's interpreter, and the .pth line
// that installs it with a FIFO in guestHookRoot, which no run has: each
// run's agent binds a line naming its own FIFO over it (bindSitePth).
// Without a FIFO (a run without a report) the hook does nothing.
// writeStartup stages the runtime's encodings package with the hook's
// loader appended and its .pyc (audit.Startup) in place of the runtime's
// own, so that interpreters started with -S, which skip the site
// directory's .pth line, run the hook too (it reads the run's channel
// from the .pth line bound per run). Without it (no site directory, no
// compile) they run as before, without the hook.
func writeStartup(s sink, rt *pyrt.Runtime) {
	site := hookSite(rt)
	if site == "" {
		return
	}
	st, err := audit.CompileStartup(rt.Executable, site, "")
	if err != nil {
		return
	}
	_ = s.file(st.Path, 0o644, bytes.NewReader(st.Source), int64(len(st.Source)))
	pyc := filepath.Join(filepath.Dir(st.Path), st.PycName())
	_ = s.file(pyc, 0o644, bytes.NewReader(st.Pyc), int64(len(st.Pyc)))
}

func writeHook(s sink, rt *pyrt.Runtime) error {
	site := hookSite(rt)
	if site == "" {
		return nil
	}
	add := func(name string, b []byte) error {
		return s.file(site+"/"+name, 0o644, bytes.NewReader(b), int64(len(b)))
	}
	if err := add(audit.Module+".py", []byte(audit.Hook())); err != nil {
		return fmt.Errorf("audit hook: %w", err)
	}
	pth := audit.PthLine(guestHookRoot + "/audit")
	if err := add(audit.PthFile, []byte(pth)); err != nil {
		return fmt.Errorf("audit hook: %w", err)
	}
	// Compiled once per image (no cache of its own: the image is one).
	tag := ""
	if bc, err := audit.Compile(rt.Executable, ""); err == nil {
		if err := add(bc.NameFor(audit.Module), bc.Data); err != nil {
			return fmt.Errorf("audit hook: %w", err)
		}
		tag = bc.Tag
	}
	// The editable install's metadata beside its .pth (audit.Dist).
	dist := audit.Dist(pth, audit.Hook(), tag)
	for _, name := range slices.Sorted(maps.Keys(dist)) {
		if err := add(name, []byte(dist[name])); err != nil {
			return fmt.Errorf("audit hook: %w", err)
		}
	}
	return nil
}
