package pyrt

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// multiarch maps GOARCH to the Debian multiarch triplet used in library
// directory names.
var multiarch = map[string]string{
	"amd64":   "x86_64-linux-gnu",
	"arm64":   "aarch64-linux-gnu",
	"386":     "i386-linux-gnu",
	"arm":     "arm-linux-gnueabihf",
	"riscv64": "riscv64-linux-gnu",
	"ppc64le": "powerpc64le-linux-gnu",
	"s390x":   "s390x-linux-gnu",
}

// standardDirs are the loader's built-in search directories, most
// specific first.
func standardDirs(goarch string) []string {
	var dirs []string
	if t := multiarch[goarch]; t != "" {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	return append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib")
}

// libraries is the result of walking an interpreter's dynamic
// dependencies.
type libraries struct {
	interp  string   // PT_INTERP as written in the executable
	found   []string // every library, as the path it was found at
	missing []string // sonames not found, sorted
}

// libWalker finds DT_NEEDED libraries the way ld.so would, approximately:
// DT_RPATH (when there is no DT_RUNPATH), DT_RUNPATH, the ld.so.conf
// directories (what ld.so.cache is built from), then the built-in ones.
type libWalker struct {
	class   elf.Class
	machine elf.Machine
	search  []string          // ld.so.conf then standard directories
	bySO    map[string]string // soname -> path found, "" if missing
	done    map[string]bool   // real paths of objects walked
	res     libraries
}

// walkLibraries walks exe (a real path) and every extension module in the
// dynload directories.
func walkLibraries(exe string, dynload []string) (*libraries, error) {
	w, err := newLibWalker(exe)
	if err != nil {
		return nil, err
	}
	exeRpath, err := w.object(exe, nil)
	if err != nil {
		return nil, err
	}
	for _, dir := range dynload {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || !(strings.HasSuffix(name, ".so") || strings.Contains(name, ".so.")) {
				continue
			}
			// A module that is not a loadable ELF is not our problem:
			// Python will fail to import it anyway.
			_, _ = w.object(filepath.Join(dir, name), exeRpath)
		}
	}
	return w.result(), nil
}

// walkObjects walks several executables (real paths) of the class and
// machine of the first. The ELF interpreter of the first is interp; those
// of the others, if they differ, are listed in found.
func walkObjects(exes []string) (*libraries, error) {
	if len(exes) == 0 {
		return &libraries{}, nil
	}
	w, err := newLibWalker(exes[0])
	if err != nil {
		return nil, err
	}
	for _, exe := range exes {
		if exe != exes[0] {
			if in := readInterp(exe); in != "" && in != w.res.interp && !slices.Contains(w.res.found, in) {
				w.res.found = append(w.res.found, in)
			}
		}
		if _, err := w.object(exe, nil); err != nil {
			return nil, err
		}
	}
	return w.result(), nil
}

// newLibWalker makes a walker for objects of exe's class and machine.
func newLibWalker(exe string) (*libWalker, error) {
	f, err := elf.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("read elf %s: %w", exe, err)
	}
	defer f.Close()
	w := &libWalker{
		class:   f.Class,
		machine: f.Machine,
		bySO:    map[string]string{},
		done:    map[string]bool{},
	}
	w.res.interp = interpOf(f)
	w.search = append(ldSoConfDirs("/etc/ld.so.conf"), standardDirs(runtime.GOARCH)...)
	w.search = dedupe(w.search)
	return w, nil
}

// result finishes the walk: the missing sonames, everything sorted.
func (w *libWalker) result() *libraries {
	for so, p := range w.bySO {
		if p == "" {
			w.res.missing = append(w.res.missing, so)
		}
	}
	slices.Sort(w.res.missing)
	slices.Sort(w.res.found)
	return &w.res
}

// interpOf returns PT_INTERP as written in f, or "".
func interpOf(f *elf.File) string {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				return strings.TrimRight(string(b), "\x00")
			}
		}
	}
	return ""
}

// readInterp returns the PT_INTERP of the file at p, or "".
func readInterp(p string) string {
	f, err := elf.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	return interpOf(f)
}

// object walks the ELF file at path (as the loader would name it) and its
// dependencies. inherited are DT_RPATH directories of the objects that
// loaded it. It returns the RPATH list its own dependencies inherit.
func (w *libWalker) object(path string, inherited []string) ([]string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", path, err)
	}
	if w.done[real] {
		return nil, nil
	}
	w.done[real] = true
	f, err := elf.Open(real)
	if err != nil {
		return nil, fmt.Errorf("read elf %s: %w", path, err)
	}
	defer f.Close()
	needed, _ := f.DynString(elf.DT_NEEDED)
	rpath, _ := f.DynString(elf.DT_RPATH)
	runpath, _ := f.DynString(elf.DT_RUNPATH)
	// glibc's $ORIGIN is the directory of the name the object was
	// opened by (the real path for the executable, via /proc/self/exe).
	origin := filepath.Dir(path)
	rdirs := expandPaths(rpath, origin)
	rundirs := expandPaths(runpath, origin)

	var dirs, pass []string
	if len(rundirs) == 0 {
		pass = append(rdirs, inherited...)
		dirs = append(dirs, pass...)
	} else {
		pass = inherited
	}
	dirs = append(dirs, rundirs...)
	dirs = append(dirs, w.search...)

	for _, so := range needed {
		if _, seen := w.bySO[so]; seen {
			continue
		}
		found := w.find(so, dirs, origin)
		w.bySO[so] = found
		if found == "" {
			continue
		}
		w.res.found = append(w.res.found, found)
		if _, err := w.object(found, pass); err != nil {
			return nil, err
		}
	}
	return pass, nil
}

// find returns the first candidate for soname in dirs that is an ELF file
// of the walked class and machine, or "".
func (w *libWalker) find(soname string, dirs []string, origin string) string {
	var cands []string
	if strings.Contains(soname, "/") {
		if filepath.IsAbs(soname) {
			cands = []string{soname}
		} else {
			cands = []string{filepath.Join(origin, soname)}
		}
	} else {
		for _, d := range dirs {
			cands = append(cands, filepath.Join(d, soname))
		}
	}
	for _, c := range cands {
		if w.matches(c) {
			return c
		}
	}
	return ""
}

func (w *libWalker) matches(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Class == w.class && f.Machine == w.machine && f.Type == elf.ET_DYN
}

// expandPaths splits colon-separated DT_RPATH/DT_RUNPATH strings and
// expands $ORIGIN; entries with other unexpanded tokens are dropped.
func expandPaths(list []string, origin string) []string {
	var out []string
	for _, s := range list {
		for _, d := range strings.Split(s, ":") {
			d = strings.ReplaceAll(d, "${ORIGIN}", origin)
			d = strings.ReplaceAll(d, "$ORIGIN", origin)
			d = strings.ReplaceAll(d, "${LIB}", "lib")
			d = strings.ReplaceAll(d, "$LIB", "lib")
			if d == "" || strings.Contains(d, "$") || !filepath.IsAbs(d) {
				continue
			}
			out = append(out, filepath.Clean(d))
		}
	}
	return out
}

// ldSoConfDirs returns the directories listed in an ld.so.conf file,
// following "include" globs (relative to the including file).
func ldSoConfDirs(conf string) []string {
	var out []string
	readLdSoConf(conf, 0, &out)
	return out
}

func readLdSoConf(conf string, depth int, out *[]string) {
	if depth > 8 {
		return
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		return
	}
	for line := range strings.Lines(string(b)) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "include":
			for _, pat := range fields[1:] {
				if !filepath.IsAbs(pat) {
					pat = filepath.Join(filepath.Dir(conf), pat)
				}
				matches, _ := filepath.Glob(pat)
				slices.Sort(matches)
				for _, m := range matches {
					readLdSoConf(m, depth+1, out)
				}
			}
		case "hwcap":
			// obsolete; ignored by modern glibc
		default:
			for _, f := range fields {
				// old syntax allowed "dir=TYPE" and comma separators
				for d := range strings.SplitSeq(f, ",") {
					d, _, _ = strings.Cut(d, "=")
					if filepath.IsAbs(d) {
						*out = append(*out, filepath.Clean(d))
					}
				}
			}
		}
	}
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
