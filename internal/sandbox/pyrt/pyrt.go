package pyrt

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Sentinel errors; branch on them with errors.Is.
var (
	// ErrNoPython means the requested interpreter does not exist.
	ErrNoPython = errors.New("no python interpreter found")
	// ErrNotExecutable means the path exists but cannot be executed.
	ErrNotExecutable = errors.New("not an executable file")
	// ErrIntrospection means the interpreter could not describe itself:
	// it failed, timed out, printed no JSON, or named a non-ELF executable.
	ErrIntrospection = errors.New("not a working Python interpreter (it could not describe itself)")
)

// Runtime describes a host Python interpreter and what a sandbox needs from
// the host to run it in an empty root. See the package documentation for
// how to use each field.
type Runtime struct {
	// Executable is the real ELF file, symlinks resolved, for example
	// /usr/bin/python3.11.
	Executable string `json:"executable"`
	// Command is the path to exec inside the sandbox. It equals Executable
	// except in a virtual environment, where it is the venv's own
	// bin/python (often a symlink): Python finds pyvenv.cfg from the path it
	// was started by, so running Executable directly would lose the venv.
	Command string `json:"command"`
	// Version is the interpreter's version, for example "3.11.2".
	Version string `json:"version"`
	// Prefixes are sys.prefix, sys.base_prefix, sys.exec_prefix,
	// sys.base_exec_prefix and the venv directory, as real paths without
	// duplicates, in that order.
	Prefixes []string `json:"prefixes"`
	// Paths are the host paths to bind read-only: real, sorted, and
	// minimal (none is a descendant of another).
	Paths []string `json:"paths"`
	// Links maps an absolute symlink path to its target exactly as
	// readlink returns it. Only links outside every entry of Paths appear.
	Links map[string]string `json:"links"`
	// SiteDirs are the site directories the interpreter processes .pth
	// files of (site.getsitepackages()), in its order, whether or not
	// they exist.
	SiteDirs []string `json:"site_dirs,omitempty"`
	// Missing lists shared-library sonames that were needed but not found;
	// extension modules that need them will fail to import.
	Missing []string `json:"missing,omitempty"`
}

// defaultName is what an empty name asks for.
const defaultName = "python3"

// ldCache is the dynamic loader's cache, bound when present.
const ldCache = "/etc/ld.so.cache"

// osRelease names the operating system the runtime comes from (public:
// the distribution and its version), bound when present with the links
// on its way (Debian's is a link to /usr/lib/os-release): every machine
// and container has one (platform.freedesktop_os_release, `cat
// /etc/os-release`), and a root without it was a cheap tell.
const osRelease = "/etc/os-release"

// zoneinfo is the time zone database (public: the tzdata package's),
// bound when present: zoneinfo.ZoneInfo, dateutil's tz.gettz and pytz's
// system zones read it, every machine and CI image has it, and test
// suites failed without it (python-dateutil's). The host's own zone,
// /etc/localtime, is not bound: a sandbox's clock is UTC.
const zoneinfo = "/usr/share/zoneinfo"

// alternativesDir is Debian's alternatives system: links in /usr (libblas.so.3,
// liblapack.so.3, awk, pager...) point at a link here, which points back
// into /usr. Without it, numpy's libblas.so.3 and the like dangle in the sandbox.
const alternativesDir = "/etc/alternatives"

// maxSiteEntries bounds the entries of the site directories looked at for
// extension modules (a Debian desktop's dist-packages has some 30,000; a
// venv with torch and CUDA, 50,000).
const maxSiteEntries = 200_000

// maxAlternatives bounds the entries of alternativesDir looked at (a
// Debian desktop has a few hundred).
const maxAlternatives = 4096

// Resolve finds a Python interpreter and describes it.
//
// An empty name means "python3" looked up on pathEnv; a name without a slash
// is looked up on pathEnv too; a name with a slash is a path (relative to the
// working directory). pathEnv is also the PATH given to the interpreter or
// shim when it is asked about itself.
//
// If cacheDir is not empty, results are cached there and reused while the
// requested file, the interpreter, the lib-dynload directories and any
// pyvenv.cfg keep their size, mtime and inode (and, for pyenv shims, while
// PATH, PYENV_VERSION and the .python-version/version file pyenv would
// consult are unchanged). A cache that cannot be written is not an error.
func Resolve(name, pathEnv, cacheDir string) (*Runtime, error) {
	requested, err := lookup(name, pathEnv)
	if err != nil {
		return nil, err
	}
	shimCtx := scriptContext(requested, pathEnv)
	if cacheDir != "" {
		if rt := loadCache(cacheDir, requested, shimCtx); rt != nil {
			return rt, nil
		}
	}
	before := fileID(requested)
	rt, deps, err := resolveFresh(requested, pathEnv)
	if err != nil {
		return nil, err
	}
	// Cache only if the requested file did not change while we looked.
	if cacheDir != "" && before != "" && fileID(requested) == before {
		storeCache(cacheDir, requested, shimCtx, deps, rt)
	}
	return rt, nil
}

// lookup turns name into an absolute, uncleaned-of-symlinks path to an
// executable regular file.
func lookup(name, pathEnv string) (string, error) {
	if name == "" {
		name = defaultName
	}
	if strings.Contains(name, "/") {
		abs, err := filepath.Abs(name)
		if err != nil {
			return "", fmt.Errorf("python: %s: %w", name, err)
		}
		if err := checkExecutable(abs); err != nil {
			return "", err
		}
		return abs, nil
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		// Relative PATH entries (including "") would find programs in
		// the working directory; like exec.LookPath's ErrDot, refuse.
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("python: %q not found in PATH %q: %w", name, pathEnv, ErrNoPython)
}

// checkExecutable reports whether p is an executable regular file.
func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("python: %s: %w: %w", p, ErrNoPython, err)
	}
	if err != nil {
		return fmt.Errorf("python: %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("python: %s: %w (mode %v)", p, ErrNotExecutable, fi.Mode())
	}
	return nil
}

// resolveFresh does the real work: introspect, walk ELF dependencies,
// compute Paths and Links. It also returns the files whose identity
// guards the cache.
func resolveFresh(requested, pathEnv string) (*Runtime, []string, error) {
	info, err := introspect(requested, pathEnv)
	if err != nil {
		return nil, nil, err
	}
	lw := newLinkWalker()
	exe, err := lw.walk(info.Executable)
	if err != nil {
		return nil, nil, fmt.Errorf("python: %s: %w: executable %s: %w", requested, ErrIntrospection, info.Executable, err)
	}
	if !isELF(exe) {
		return nil, nil, fmt.Errorf("python: %s: %w: executable %s is not an ELF file", requested, ErrIntrospection, exe)
	}
	rt := &Runtime{Executable: exe, Command: exe, Version: info.Version}
	deps := []string{requested, exe}

	// Prefixes, plus the venv that pyvenv.cfg next to sys.executable
	// declares (before 3.11, -S hides the venv from sys.prefix).
	reported := []string{info.Prefix, info.BasePrefix, info.ExecPrefix, info.BaseExecPrefix}
	var extra []string // other paths to bind
	if venv, cfgPath, cfg := findVenv(info.Executable); venv != "" {
		reported = append(reported, venv)
		deps = append(deps, cfgPath)
		rt.Command = info.Executable
		if home := cfg["home"]; filepath.IsAbs(home) {
			extra = append(extra, home)
		}
	}
	for _, p := range reported {
		if p == "" {
			continue
		}
		real, err := lw.walk(p)
		if err != nil {
			return nil, nil, fmt.Errorf("python: %s: %w: prefix %s: %w", requested, ErrIntrospection, p, err)
		}
		if !slices.Contains(rt.Prefixes, real) {
			rt.Prefixes = append(rt.Prefixes, real)
		}
	}
	if rt.Command != exe {
		if _, err := lw.walk(rt.Command); err != nil {
			return nil, nil, fmt.Errorf("python: %s: %w: command %s: %w", requested, ErrIntrospection, rt.Command, err)
		}
	}

	// Shared libraries of the executable and of every extension module
	// in lib-dynload.
	dynload := dynloadDirs(info, rt.Prefixes)
	deps = append(deps, dynload...)
	libs, err := walkLibraries(exe, dynload)
	if err != nil {
		return nil, nil, fmt.Errorf("python: %s: %w", requested, err)
	}
	rt.Missing = libs.missing

	paths := append([]string{exe}, rt.Prefixes...)
	spelled := []string{requested, info.Executable}
	spelled = append(spelled, dynload...)
	spelled = append(spelled, libs.found...)
	if libs.interp != "" {
		spelled = append(spelled, libs.interp)
	}
	if _, err := os.Stat(ldCache); err == nil {
		spelled = append(spelled, ldCache)
		extra = append(extra, ldCache)
	}
	if fi, err := os.Stat(osRelease); err == nil && fi.Mode().IsRegular() {
		extra = append(extra, osRelease)
		deps = append(deps, osRelease)
	}
	if fi, err := os.Stat(zoneinfo); err == nil && fi.IsDir() {
		extra = append(extra, zoneinfo)
		deps = append(deps, zoneinfo)
	}
	for _, p := range extra {
		if real, err := lw.walk(p); err == nil {
			paths = append(paths, real)
		}
	}
	for _, p := range spelled {
		real, err := lw.walk(p)
		if err != nil {
			continue // already reported as missing or irrelevant
		}
		if p == libs.interp || slices.Contains(libs.found, p) {
			paths = append(paths, filepath.Dir(real))
		}
	}
	// The libraries of the site directories' extension modules, whose
	// directories are bound too: a module may need one that neither the
	// interpreter nor lib-dynload does, where no other path brings it (a
	// pyenv Python's module needing /usr/local/lib's, or its RPATH's). A
	// /usr prefix holds all of a distribution's. The site directories are
	// the operator's interpreter's, trusted as it is (package doc).
	// The interpreter's site directories, and each prefix's
	// site-packages: a venv's is not among the former (introspection
	// runs with -I -S).
	var sites []string
	cands := slices.Clone(info.Site)
	if xy := majorMinor(info.Version); xy != "" {
		for _, pre := range rt.Prefixes {
			for _, ld := range []string{"lib", "lib64"} {
				cands = append(cands, filepath.Join(pre, ld, "python"+xy, "site-packages"))
			}
		}
	}
	for _, d := range cands {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && filepath.IsAbs(d) && !slices.Contains(sites, d) {
			sites = append(sites, d)
		}
	}
	deps = append(deps, sites...)
	siteLibs, _, err := rt.LibrariesOf(ELFObjects(sites, maxSiteEntries))
	if err != nil {
		return nil, nil, fmt.Errorf("python: %s: site directories: %w", requested, err)
	}
	for _, l := range siteLibs {
		if real, err := lw.walk(l); err == nil {
			paths = append(paths, filepath.Dir(real))
		}
	}
	rt.Paths = minimal(paths)
	if alternatives(alternativesDir, rt.Paths, lw) {
		deps = append(deps, alternativesDir)
	}
	if target, err := os.Readlink(opensslCert); err == nil && target == CABundle {
		lw.links[opensslCert] = target // see opensslCert; dropped below if bound
	}
	rt.Links = lw.outside(rt.Paths)
	for _, d := range info.Site {
		if filepath.IsAbs(d) && !slices.Contains(rt.SiteDirs, d) {
			rt.SiteDirs = append(rt.SiteDirs, filepath.Clean(d))
		}
	}
	return rt, deps, nil
}

// alternatives records in lw the links of dir (Debian's /etc/alternatives)
// whose real target lies in one of bound, with every link met on the way,
// so that the sandbox recreates them: a bound file reached through the
// alternatives system (/usr/lib/x86_64-linux-gnu/libblas.so.3 ->
// /etc/alternatives/libblas.so.3-x86_64-linux-gnu -> .../blas/libblas.so.3)
// then resolves as on the host. A link whose target is not bound is left
// out: the sandbox gains no path to anything the bound paths do not
// already give, only names. It reports whether dir exists (a dependency of
// the cached result).
func alternatives(dir string, bound []string, lw *linkWalker) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	names, _ := f.Readdirnames(maxAlternatives)
	f.Close()
	slices.Sort(names)
	set := make(map[string]bool, len(bound))
	for _, b := range bound {
		set[b] = true
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			continue
		}
		one := newLinkWalker()
		real, err := one.walk(p)
		if err != nil || !(set[real] || underAny(real, set)) {
			continue
		}
		// Only links of dir itself, or inside a bound path (which the
		// sandbox has already): an entry reached through another link
		// (/etc/alternatives/mt -> /bin/mt-gnu, /bin -> usr/bin) would
		// make that link too, and /bin/sh with it, where the userland
		// is off.
		if len(one.outside(append(slices.Clone(bound), dir))) > 0 {
			continue
		}
		maps.Copy(lw.links, one.links)
	}
	return true
}

// isELF reports whether p starts with the ELF magic.
func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false
	}
	return bytes.Equal(magic[:], []byte(elf.ELFMAG))
}

// findVenv looks for pyvenv.cfg beside the executable or one directory up,
// as CPython's getpath does, and returns the venv directory (real path), the
// cfg file and its parsed keys.
func findVenv(executable string) (dir, cfgPath string, cfg map[string]string) {
	d := filepath.Dir(executable)
	for _, cand := range []string{d, filepath.Dir(d)} {
		p := filepath.Join(cand, "pyvenv.cfg")
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		cfg, err := parsePyvenvCfg(f)
		f.Close()
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(cand)
		if err != nil {
			continue
		}
		return real, p, cfg
	}
	return "", "", nil
}

// dynloadDirs lists the existing lib-dynload directories: those on the
// interpreter's sys.path plus <prefix>/{lib,lib64,platlibdir}/pythonX.Y/lib-dynload.
func dynloadDirs(info *introspection, prefixes []string) []string {
	var out []string
	add := func(p string) {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return
		}
		if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
			return
		}
		if !slices.Contains(out, real) {
			out = append(out, real)
		}
	}
	for _, p := range info.Dynload {
		if filepath.IsAbs(p) {
			add(p)
		}
	}
	if xy := majorMinor(info.Version); xy != "" {
		libdirs := []string{"lib", "lib64"}
		if info.PlatLibDir != "" && !strings.Contains(info.PlatLibDir, "/") && !slices.Contains(libdirs, info.PlatLibDir) {
			libdirs = append(libdirs, info.PlatLibDir)
		}
		for _, pre := range prefixes {
			for _, ld := range libdirs {
				add(filepath.Join(pre, ld, "python"+xy, "lib-dynload"))
			}
		}
	}
	return out
}

// majorMinor turns "3.11.2" into "3.11".
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "." + parts[1]
}

// minimal returns the sorted, deduplicated paths with every path that lies
// under another one removed.
func minimal(paths []string) []string {
	set := make(map[string]bool, len(paths))
	for _, p := range paths {
		set[filepath.Clean(p)] = true
	}
	var out []string
	for p := range set {
		if !underAny(p, set) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// underAny reports whether a strict ancestor of p is in set.
func underAny(p string, set map[string]bool) bool {
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		if set[d] && d != p {
			return true
		}
		if d == "/" || d == "." {
			return false
		}
	}
}

// HookSite is the first site directory of rt that a sandbox binding
// rt.Paths has: one that exists, is its own real path, and lies inside one
// of the binds. Backends add the audit hook's .pth line to it with an
// overlay. "" when there is none (the hook then goes on PYTHONPATH).
func (rt *Runtime) HookSite() string {
	for _, d := range rt.SiteDirs {
		real, err := filepath.EvalSymlinks(d)
		if err != nil || real != d {
			continue
		}
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		for _, b := range rt.Paths {
			if strings.HasPrefix(d, b+"/") {
				return d
			}
		}
	}
	return ""
}

// ELFObjects lists the ELF files below dirs that the loader may open
// (extension modules, libraries and programs): named *.so or *.so.N, or
// executable, looking at no more than max entries in all.
func ELFObjects(dirs []string, max int) []string {
	var out []string
	n := 0
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if n++; n > max {
				return filepath.SkipAll
			}
			if err != nil || !e.Type().IsRegular() {
				return nil
			}
			name := e.Name()
			if !strings.HasSuffix(name, ".so") && !strings.Contains(name, ".so.") {
				if fi, err := e.Info(); err != nil || fi.Mode().Perm()&0o111 == 0 {
					return nil
				}
			}
			if isELF(p) {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}
