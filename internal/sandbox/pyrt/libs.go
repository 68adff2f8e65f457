package pyrt

import (
	"debug/elf"
	"os"
	"path/filepath"
	"slices"
)

// Stdlib returns the directories of the standard library below rt's
// prefixes (prefix/lib/pythonX.Y), for a sandbox that copies the runtime
// instead of binding whole prefixes.
func (rt *Runtime) Stdlib() []string {
	xy := majorMinor(rt.Version)
	if xy == "" {
		return nil
	}
	var out []string
	for _, pre := range rt.Prefixes {
		for _, ld := range []string{"lib", "lib64"} {
			p := filepath.Join(pre, ld, "python"+xy)
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				if real, err := filepath.EvalSymlinks(p); err == nil && !slices.Contains(out, real) {
					out = append(out, real)
				}
			}
		}
	}
	return out
}

// Libraries returns the shared libraries that rt's executable and the
// extension modules of its lib-dynload directories need, as the paths the
// loader finds them at (often symlinks), and the ELF interpreter (PT_INTERP,
// as written), for a sandbox that copies them instead of binding their
// directories.
func (rt *Runtime) Libraries() (libs []string, interp string, err error) {
	var dynload []string
	for _, d := range rt.Stdlib() {
		p := filepath.Join(d, "lib-dynload")
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			dynload = append(dynload, p)
		}
	}
	l, err := walkLibraries(rt.Executable, dynload)
	if err != nil {
		return nil, "", err
	}
	return l.found, l.interp, nil
}

// LibrariesOf returns the shared libraries that the ELF objects (host
// paths, as a sandbox names them: extension modules of site directories,
// programs shipped in a package) need, transitively, beyond the
// interpreter's own (Libraries), found the way the loader finds them for rt's interpreter (the objects' DT_RPATH and
// DT_RUNPATH with $ORIGIN, the interpreter's DT_RPATH that a dlopen
// inherits, the ld.so.conf directories, the built-in ones), as the paths
// the loader finds them at; and the sonames not found (sorted). An object
// that is not an ELF file of the interpreter's class and machine is
// skipped: the loader would refuse it as well.
func (rt *Runtime) LibrariesOf(objects []string) (libs, missing []string, err error) {
	w, err := newLibWalker(rt.Executable)
	if err != nil {
		return nil, nil, err
	}
	exeRpath, err := w.object(rt.Executable, nil)
	if err != nil {
		return nil, nil, err
	}
	// Only the objects' own needs: the executable's are not asked for.
	w.res.found = nil
	for _, o := range objects {
		if !w.loadable(o) {
			continue
		}
		if _, err := w.object(o, exeRpath); err != nil {
			return nil, nil, err
		}
	}
	l := w.result()
	return l.found, l.missing, nil
}

// loadable reports whether p is an ELF shared object or executable of the
// walked class and machine.
func (w *libWalker) loadable(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Class == w.class && f.Machine == w.machine && (f.Type == elf.ET_DYN || f.Type == elf.ET_EXEC)
}
