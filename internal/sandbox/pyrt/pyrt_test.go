package pyrt

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	debianPython = "/usr/bin/python3"
	pyenvShim    = "/root/.pyenv/shims/python3"
)

// requireFile skips the test when a host file it needs is absent.
func requireFile(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		t.Skipf("needs %s on the host: %v", p, err)
	}
}

// countRuns replaces the introspection runner with one that counts calls.
func countRuns(t *testing.T) *atomic.Int32 {
	t.Helper()
	var n atomic.Int32
	orig := runIntrospection
	runIntrospection = func(ctx context.Context, path string, args, env []string) ([]byte, []byte, error) {
		n.Add(1)
		return orig(ctx, path, args, env)
	}
	t.Cleanup(func() { runIntrospection = orig })
	return &n
}

// hostPython asks an interpreter, outside this package, for its real
// executable and prefix.
func hostPython(t *testing.T, name string) (exe, prefix string) {
	t.Helper()
	out, err := exec.Command(name, "-c", "import os, sys; print(os.path.realpath(sys.executable)); print(os.path.realpath(sys.prefix))").Output()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%s printed %q", name, out)
	}
	return lines[0], lines[1]
}

// covered reports whether p is one of paths or lies under one.
func covered(p string, paths []string) bool {
	for _, b := range paths {
		if p == b || strings.HasPrefix(p, strings.TrimSuffix(b, "/")+"/") {
			return true
		}
	}
	return false
}

func ptInterp(t *testing.T, exe string) string {
	t.Helper()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	t.Fatalf("%s has no PT_INTERP", exe)
	return ""
}

// hostLibc finds libc.so.6 in the standard directories, real path.
func hostLibc(t *testing.T) string {
	t.Helper()
	for _, d := range standardDirs(runtime.GOARCH) {
		if real, err := filepath.EvalSymlinks(filepath.Join(d, "libc.so.6")); err == nil {
			return real
		}
	}
	t.Skip("needs libc.so.6 in a standard directory")
	return ""
}

// sandboxView resolves p as it would resolve inside an empty root holding
// only rt.Paths (bound from the host) and rt.Links (created), and reports
// whether it reaches an existing file.
func sandboxView(rt *Runtime, p string) (string, bool) {
	resolved := "/"
	rest := strings.Split(p, "/")
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, c)
		var target string
		switch {
		case covered(next, rt.Paths):
			fi, err := os.Lstat(next)
			if err != nil {
				return next, false
			}
			if fi.Mode()&os.ModeSymlink == 0 {
				resolved = next
				continue
			}
			target, _ = os.Readlink(next)
		case rt.Links[next] != "":
			target = rt.Links[next]
		case isAncestor(next, rt):
			resolved = next // a directory the sandbox made for a mount or link
			continue
		default:
			return next, false
		}
		if hops++; hops > 40 {
			return next, false
		}
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return resolved, true
}

func isAncestor(dir string, rt *Runtime) bool {
	all := slices.Clone(rt.Paths)
	for l := range rt.Links {
		all = append(all, l)
	}
	for _, p := range all {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// checkRuntime asserts the invariants every Runtime must hold on this host.
func checkRuntime(t *testing.T, rt *Runtime, wantExe, wantPrefix string) {
	t.Helper()
	if rt.Executable != wantExe {
		t.Errorf("Executable = %q, want %q", rt.Executable, wantExe)
	}
	if !slices.Contains(rt.Prefixes, wantPrefix) {
		t.Errorf("Prefixes = %q, want it to contain %q", rt.Prefixes, wantPrefix)
	}
	if !covered(wantPrefix, rt.Paths) {
		t.Errorf("Paths %q do not cover prefix %q", rt.Paths, wantPrefix)
	}
	if libc := hostLibc(t); !covered(filepath.Dir(libc), rt.Paths) {
		t.Errorf("Paths %q do not cover libc's directory %s", rt.Paths, filepath.Dir(libc))
	}
	interp := ptInterp(t, rt.Executable)
	realInterp, err := filepath.EvalSymlinks(interp)
	if err != nil {
		t.Fatal(err)
	}
	if !covered(filepath.Dir(realInterp), rt.Paths) {
		t.Errorf("Paths %q do not cover ld.so's directory %s", rt.Paths, filepath.Dir(realInterp))
	}
	if !slices.IsSorted(rt.Paths) {
		t.Errorf("Paths not sorted: %q", rt.Paths)
	}
	for i, p := range rt.Paths {
		if real, err := filepath.EvalSymlinks(p); err != nil || real != p {
			t.Errorf("Paths[%d] = %q is not a real path (%q, %v)", i, p, real, err)
		}
		for j, q := range rt.Paths {
			if i != j && covered(p, []string{q}) {
				t.Errorf("Paths not minimal: %q is under %q", p, q)
			}
		}
	}
	if fi, err := os.Lstat("/lib64"); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		want, _ := os.Readlink("/lib64")
		if got := rt.Links["/lib64"]; got != want {
			t.Errorf(`Links["/lib64"] = %q, want %q (host symlink)`, got, want)
		}
	}
	for link, target := range rt.Links {
		if got, err := os.Readlink(link); err != nil || got != target {
			t.Errorf("Links[%q] = %q, host readlink gives %q, %v", link, target, got, err)
		}
		if covered(link, rt.Paths) {
			t.Errorf("Links has %q, which lies in a bound path", link)
		}
	}
	// The paths the loader will open must resolve in the sandbox.
	for _, p := range []string{rt.Command, rt.Executable, interp, ldCache} {
		if p == ldCache {
			if _, err := os.Stat(p); err != nil {
				continue
			}
		}
		if got, ok := sandboxView(rt, p); !ok {
			t.Errorf("in the sandbox %s does not resolve (stuck at %s)", p, got)
		}
	}
	if len(rt.Missing) > 0 {
		t.Logf("missing libraries (optional modules): %q", rt.Missing)
	}
}

func TestResolveDebianPython(t *testing.T) {
	requireFile(t, debianPython)
	exe, prefix := hostPython(t, debianPython)
	rt, err := Resolve(debianPython, "", "")
	if err != nil {
		t.Fatal(err)
	}
	checkRuntime(t, rt, exe, prefix)
	if rt.Command != rt.Executable {
		t.Errorf("Command = %q, want Executable %q", rt.Command, rt.Executable)
	}
	if !strings.HasPrefix(rt.Version, "3.") {
		t.Errorf("Version = %q", rt.Version)
	}
}

func TestResolveOnPath(t *testing.T) {
	requireFile(t, debianPython)
	exe, prefix := hostPython(t, debianPython)
	// Relative and empty entries are skipped, never searched.
	rt, err := Resolve("", "relative/dir::"+filepath.Dir(debianPython), "")
	if err != nil {
		t.Fatal(err)
	}
	checkRuntime(t, rt, exe, prefix)
}

// TestResolveThroughSymlinkedDir asks for /bin/python3 where /bin is a
// symlink: the link must be reported so the sandbox can recreate it.
func TestResolveThroughSymlinkedDir(t *testing.T) {
	fi, err := os.Lstat("/bin")
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Skip("needs /bin to be a symlink (merged /usr)")
	}
	requireFile(t, "/bin/python3")
	rt, err := Resolve("/bin/python3", "", "")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.Readlink("/bin")
	if got := rt.Links["/bin"]; got != want {
		t.Errorf(`Links["/bin"] = %q, want %q; links %v`, got, want, rt.Links)
	}
	if _, ok := sandboxView(rt, "/bin/python3"); !ok {
		t.Error("/bin/python3 does not resolve in the sandbox")
	}
}

func TestResolvePyenvShim(t *testing.T) {
	requireFile(t, pyenvShim)
	exe, prefix := hostPython(t, pyenvShim)
	rt, err := Resolve(pyenvShim, os.Getenv("PATH"), "")
	if err != nil {
		t.Fatal(err)
	}
	checkRuntime(t, rt, exe, prefix)
	if exe == "/root/.pyenv/versions/3.11.7/bin/python3.11" && rt.Version != "3.11.7" {
		t.Errorf("Version = %q, want 3.11.7", rt.Version)
	}
	if !strings.HasPrefix(rt.Executable, prefix+"/") {
		t.Errorf("Executable %q not under prefix %q", rt.Executable, prefix)
	}
}

func TestCacheSkipsSubprocess(t *testing.T) {
	requireFile(t, pyenvShim)
	// A private copy of the shim (it hard-codes PYENV_ROOT) lets the test
	// change its mtime.
	shim := filepath.Join(t.TempDir(), "python3")
	b, err := os.ReadFile(pyenvShim)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shim, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	runs := countRuns(t)
	path := os.Getenv("PATH")

	first, err := Resolve(shim, path, cache)
	if err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 1 {
		t.Fatalf("first Resolve ran %d subprocesses, want 1", runs.Load())
	}
	second, err := Resolve(shim, path, cache)
	if err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 1 {
		t.Fatalf("cached Resolve ran a subprocess (%d runs)", runs.Load())
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("cached result differs:\n%+v\n%+v", first, second)
	}

	// A different PATH may change what the shim picks: not a cache hit.
	if _, err := Resolve(shim, path+":/nonexistent", cache); err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 2 {
		t.Errorf("Resolve with another PATH ran %d subprocesses in total, want 2", runs.Load())
	}

	// Touching the shim invalidates its entry.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(shim, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(shim, path, cache); err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 3 {
		t.Errorf("Resolve after touching the shim ran %d subprocesses in total, want 3", runs.Load())
	}

	// A corrupt cache file is ignored and rewritten.
	files, _ := filepath.Glob(filepath.Join(cache, "pyrt-*.json"))
	for _, f := range files {
		os.WriteFile(f, []byte("{not json"), 0o600)
	}
	if _, err := Resolve(shim, path, cache); err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 4 {
		t.Errorf("Resolve with a corrupt cache ran %d subprocesses in total, want 4", runs.Load())
	}
}

// TestCachedResolveTime measures the steady state: it must stay well under
// a millisecond (no subprocess, a few stats and one small read).
func TestCachedResolveTime(t *testing.T) {
	name := pyenvShim
	if _, err := os.Stat(name); err != nil {
		requireFile(t, debianPython)
		name = debianPython
	}
	cache := t.TempDir()
	if _, err := Resolve(name, os.Getenv("PATH"), cache); err != nil {
		t.Fatal(err)
	}
	runs := countRuns(t)
	const n = 200
	start := time.Now()
	for range n {
		if _, err := Resolve(name, os.Getenv("PATH"), cache); err != nil {
			t.Fatal(err)
		}
	}
	per := time.Since(start) / n
	t.Logf("cached Resolve(%s): %v per call", name, per)
	if runs.Load() != 0 {
		t.Errorf("cached Resolve ran %d subprocesses", runs.Load())
	}
	if per > time.Millisecond {
		t.Errorf("cached Resolve takes %v, want well under 1ms", per)
	}
}

func BenchmarkResolveCached(b *testing.B) {
	for _, name := range []string{debianPython, pyenvShim} {
		if _, err := os.Stat(name); err != nil {
			continue
		}
		b.Run(filepath.Base(filepath.Dir(name)), func(b *testing.B) {
			cache := b.TempDir()
			if _, err := Resolve(name, os.Getenv("PATH"), cache); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := Resolve(name, os.Getenv("PATH"), cache); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestResolveVenv(t *testing.T) {
	requireFile(t, debianPython)
	venv := filepath.Join(t.TempDir(), "venv")
	out, err := exec.Command(debianPython, "-m", "venv", "--without-pip", venv).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("ensurepip")) || bytes.Contains(out, []byte("No module named venv")) {
			t.Skipf("needs the Debian package python3-venv: %s", out)
		}
		t.Fatalf("create venv: %v: %s", err, out)
	}
	realVenv, err := filepath.EvalSymlinks(venv)
	if err != nil {
		t.Fatal(err)
	}
	exe, base := hostPython(t, debianPython)
	cache := t.TempDir()
	rt, err := Resolve(filepath.Join(venv, "bin", "python"), "", cache)
	if err != nil {
		t.Fatal(err)
	}
	checkRuntime(t, rt, exe, base)
	if !slices.Contains(rt.Prefixes, realVenv) {
		t.Errorf("Prefixes = %q, want the venv %q", rt.Prefixes, realVenv)
	}
	if !covered(realVenv, rt.Paths) {
		t.Errorf("Paths %q do not cover the venv", rt.Paths)
	}
	if rt.Command != filepath.Join(venv, "bin", "python") {
		t.Errorf("Command = %q, want the venv's bin/python", rt.Command)
	}

	// Rewriting pyvenv.cfg invalidates the cache.
	runs := countRuns(t)
	if _, err := Resolve(filepath.Join(venv, "bin", "python"), "", cache); err != nil || runs.Load() != 0 {
		t.Fatalf("second Resolve: err %v, %d runs, want a cache hit", err, runs.Load())
	}
	cfg := filepath.Join(venv, "pyvenv.cfg")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(cfg, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(filepath.Join(venv, "bin", "python"), "", cache); err != nil || runs.Load() != 1 {
		t.Errorf("Resolve after touching pyvenv.cfg: err %v, %d runs, want 1", err, runs.Load())
	}
}

func writeScript(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "python3")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		pathEnv string
		want    error
		wantMsg string
	}{
		{"not on PATH", func(*testing.T) string { return "no-such-python-xyz" }, "/usr/bin:/bin", ErrNoPython, `"no-such-python-xyz" not found in PATH`},
		{"empty PATH", func(*testing.T) string { return "" }, "", ErrNoPython, `"python3" not found`},
		{"missing path", func(t *testing.T) string { return filepath.Join(t.TempDir(), "python3") }, "", ErrNoPython, "no such file"},
		{"directory", func(t *testing.T) string { return t.TempDir() }, "", ErrNotExecutable, ""},
		{"not executable", func(t *testing.T) string { return writeScript(t, "#!/bin/sh\n", 0o644) }, "", ErrNotExecutable, ""},
		{"garbage", func(t *testing.T) string { return writeScript(t, "#!/bin/sh\necho hello garbage\n", 0o755) }, "", ErrIntrospection, "output not JSON"},
		{"bad json", func(t *testing.T) string {
			return writeScript(t, "#!/bin/sh\necho 'moat-pyrt:{\"executable\": 3'\n", 0o755)
		}, "", ErrIntrospection, "output not JSON"},
		{"fails", func(t *testing.T) string { return writeScript(t, "#!/bin/sh\necho boom >&2\nexit 3\n", 0o755) }, "", ErrIntrospection, "exit status 3: boom"},
		{"no shebang", func(t *testing.T) string { return writeScript(t, "just text\n", 0o755) }, "", ErrIntrospection, "exec format error"},
		{"not elf", func(t *testing.T) string {
			return writeScript(t, "#!/bin/sh\n"+`echo "moat-pyrt:{\"executable\":\"$0\",\"prefix\":\"/usr\",\"version\":\"3.1.0\"}"`+"\n", 0o755)
		}, "", ErrIntrospection, "not an ELF file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.path(t)
			_, err := Resolve(p, tt.pathEnv, t.TempDir())
			if !errors.Is(err, tt.want) {
				t.Fatalf("Resolve(%q) error = %v, want %v", p, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "python: ") || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q: want prefix \"python: \" and %q", err, tt.wantMsg)
			}
		})
	}
}

func TestResolveTimeout(t *testing.T) {
	old := introspectTimeout
	introspectTimeout = 200 * time.Millisecond
	t.Cleanup(func() { introspectTimeout = old })
	p := writeScript(t, "#!/bin/sh\nexec sleep 10\n", 0o755)
	start := time.Now()
	_, err := Resolve(p, "/usr/bin:/bin", "")
	if !errors.Is(err, ErrIntrospection) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("error = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

// TestAlternatives: a link of the alternatives directory whose target is
// bound is recreated, with the links on its way; one whose target is not
// bound, or that dangles, is not.
func TestAlternatives(t *testing.T) {
	root := t.TempDir()
	usr := filepath.Join(root, "usr")
	alt := filepath.Join(root, "alternatives")
	for _, d := range []string{filepath.Join(usr, "lib", "blas"), alt, filepath.Join(root, "other")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(usr, "lib", "blas", "libblas.so.3"), filepath.Join(root, "other", "secret")} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(usr, "lib", "libblas.so.3"): filepath.Join(alt, "libblas.so.3"),
		filepath.Join(alt, "libblas.so.3"):        filepath.Join(usr, "lib", "blas", "libblas.so.3"),
		filepath.Join(alt, "secret"):              filepath.Join(root, "other", "secret"),
		filepath.Join(alt, "dangling"):            filepath.Join(usr, "nothing"),
		// Through a link outside the bound paths (as /bin -> usr/bin):
		// not recreated, nor is that link.
		filepath.Join(root, "bin"):    "usr/lib",
		filepath.Join(alt, "through"): filepath.Join(root, "bin", "blas", "libblas.so.3"),
	}
	for l, target := range links {
		if err := os.Symlink(target, l); err != nil {
			t.Fatal(err)
		}
	}
	lw := newLinkWalker()
	if !alternatives(alt, []string{usr}, lw) {
		t.Fatal("alternatives: directory not seen")
	}
	got := lw.outside([]string{usr})
	want := map[string]string{filepath.Join(alt, "libblas.so.3"): links[filepath.Join(alt, "libblas.so.3")]}
	if !maps.Equal(got, want) {
		t.Errorf("links = %q, want %q", got, want)
	}
	if alternatives(filepath.Join(root, "none"), []string{usr}, newLinkWalker()) {
		t.Error("alternatives: a missing directory reported as seen")
	}
}

// TestResolveAlternatives: on a Debian host, a library reached through
// /etc/alternatives (numpy's libblas.so.3) resolves in the sandbox's view.
func TestResolveAlternatives(t *testing.T) {
	requireFile(t, debianPython)
	var lib string
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3", "/usr/bin/pager", "/usr/bin/awk"} {
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, alternativesDir+"/") {
			if _, err := os.Stat(p); err == nil {
				lib = p
				break
			}
		}
	}
	if lib == "" {
		t.Skip("needs a link into /etc/alternatives (libblas.so.3, pager or awk)")
	}
	rt, err := Resolve(debianPython, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !covered(lib, rt.Paths) {
		t.Skipf("%s is not in a bound path of %s: %q", lib, debianPython, rt.Paths)
	}
	want, err := filepath.EvalSymlinks(lib)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := sandboxView(rt, lib); !ok || got != want {
		t.Errorf("%s in the sandbox: %q, %v; want %q", lib, got, ok, want)
	}
}
