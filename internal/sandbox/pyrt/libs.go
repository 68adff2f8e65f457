package pyrt

import (
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
