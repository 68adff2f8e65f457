package pyrt

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeUserland points the resolver at a directory of real copies of a host
// ELF tool, each with another mode, for the duration of the test.
func fakeUserland(t *testing.T) (bin string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the tools must be owned by root")
	}
	elfTool := "/usr/bin/true"
	requireFile(t, elfTool)
	data, err := os.ReadFile(elfTool)
	if err != nil {
		t.Fatal(err)
	}
	bin = t.TempDir()
	put := func(name string, b []byte, mode os.FileMode) {
		p := filepath.Join(bin, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask-proof, and set-id bits
			t.Fatal(err)
		}
	}
	put("good", data, 0o755)
	put("suid", data, 0o755|os.ModeSetuid)
	put("sgid", data, 0o755|os.ModeSetgid)
	put("worldwritable", data, 0o777)
	put("private", data, 0o750)
	put("script", []byte("#!"+filepath.Join(bin, "good")+" -x\necho\n"), 0o755)
	put("orphan", []byte("#!/nonexistent/interp\n"), 0o755)
	put("text", []byte("just text\n"), 0o755)
	put("notroot", data, 0o755)
	if err := os.Chown(filepath.Join(bin, "notroot"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("good", filepath.Join(bin, "alias")); err != nil {
		t.Fatal(err)
	}
	origDirs, origTools := userlandDirs, UserlandTools
	userlandDirs = []string{bin}
	UserlandTools = []string{"good", "alias", "script", "suid", "sgid", "worldwritable", "private", "orphan", "text", "notroot", "missing"}
	t.Cleanup(func() { userlandDirs, UserlandTools = origDirs, origTools })
	return bin
}

func TestUserlandChecks(t *testing.T) {
	bin := fakeUserland(t)
	u, err := ResolveUserland("")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"good", "alias", "script"}; !slices.Equal(u.Tools, want) {
		t.Errorf("Tools = %q, want %q", u.Tools, want)
	}
	reasons := map[string]string{
		"suid": "set-uid or set-gid", "sgid": "set-uid or set-gid", "worldwritable": "writable by others",
		"private": "not executable by everyone", "orphan": "not bound", "text": "neither ELF",
		"notroot": "not owned by root", "missing": "not found",
	}
	for name, why := range reasons {
		i := slices.IndexFunc(u.Skipped, func(s string) bool { return strings.HasPrefix(s, name+": ") })
		if i < 0 || !strings.Contains(u.Skipped[i], why) {
			t.Errorf("%s: not skipped with a reason holding %q (skipped: %q)", name, why, u.Skipped)
		}
	}
	for _, p := range u.Paths {
		if strings.HasPrefix(p, bin+"/") && p != filepath.Join(bin, "good") && p != filepath.Join(bin, "script") {
			t.Errorf("bound %s, a refused file", p)
		}
	}
	for _, want := range []string{filepath.Join(bin, "good"), filepath.Join(bin, "script")} {
		if !slices.Contains(u.Paths, want) {
			t.Errorf("Paths %q lack %s", u.Paths, want)
		}
	}
	if u.Links[filepath.Join(bin, "alias")] != "good" {
		t.Errorf("Links %q lack alias -> good", u.Links)
	}
	// The libraries of the ELF tool and its loader come along.
	libc := false
	for _, p := range u.Paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			if m, _ := filepath.Glob(filepath.Join(p, "libc.so*")); len(m) > 0 {
				libc = true
			}
		}
	}
	if !libc {
		t.Errorf("no directory of Paths %q holds libc", u.Paths)
	}
	if got := u.Summary(); !strings.HasPrefix(got, "no sh, 3 tools (read-only, no set-uid): good alias script; skipped: ") {
		t.Errorf("Summary = %q", got)
	}
}

// TestUserlandCacheRechecks: a cached userland is not used once a tool
// became set-uid, although a chmod leaves size, mtime and inode as they
// were.
func TestUserlandCacheRechecks(t *testing.T) {
	bin := fakeUserland(t)
	cache := t.TempDir()
	u, err := ResolveUserland(cache)
	if err != nil || !slices.Contains(u.Tools, "good") {
		t.Fatalf("first resolve: %v, %+v", err, u)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "userland-*.json")); len(m) != 1 {
		t.Fatalf("no cache file written: %q", m)
	}
	if u, err = ResolveUserland(cache); err != nil || !slices.Contains(u.Tools, "good") {
		t.Fatalf("cached resolve: %v, %+v", err, u)
	}
	if err := os.Chmod(filepath.Join(bin, "good"), 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	u, err = ResolveUserland(cache)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(u.Tools, "good") || slices.Contains(u.Paths, filepath.Join(bin, "good")) {
		t.Errorf("a tool made set-uid after caching is still bound: %+v", u)
	}
}

// TestUserlandHost resolves the real list on this host: sh at least, and
// nothing set-uid.
func TestUserlandHost(t *testing.T) {
	requireFile(t, "/bin/sh")
	u, err := ResolveUserland("")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(u.Tools, "sh") || !slices.Contains(u.Tools, "env") {
		t.Fatalf("Tools = %q (skipped %q), want sh and env", u.Tools, u.Skipped)
	}
	for _, p := range u.Paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
		} else if fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			t.Errorf("%s is set-uid or set-gid", p)
		}
	}
	if !slices.Equal(u.Paths, minimal(u.Paths)) {
		t.Errorf("Paths not minimal: %q", u.Paths)
	}
}

// TestUserlandFiles: a copier of the host's userland gets each tool's
// spellings, the libraries the shell loads, their ELF interpreter and
// the loader's cache, and no set-uid file.
func TestUserlandFiles(t *testing.T) {
	requireFile(t, "/bin/sh")
	u, err := ResolveUserland("")
	if err != nil {
		t.Fatal(err)
	}
	files, err := u.Files()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, "/bin/sh") {
		t.Errorf("no /bin/sh in %q", files)
	}
	libc := slices.ContainsFunc(files, func(p string) bool { return strings.Contains(filepath.Base(p), "libc.so") })
	interp := slices.ContainsFunc(files, func(p string) bool { return strings.HasPrefix(filepath.Base(p), "ld-linux") })
	if !libc || !interp {
		t.Errorf("libc %v, ELF interpreter %v in %q", libc, interp, files)
	}
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
		} else if fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			t.Errorf("%s is set-uid or set-gid", p)
		}
	}
}

func TestWithUserland(t *testing.T) {
	rt := &Runtime{Executable: "/usr/bin/python3.11", Paths: []string{"/etc/ld.so.cache", "/usr"},
		Links: map[string]string{"/lib64": "usr/lib64"}}
	u := &Userland{Tools: []string{"sh"}, Paths: []string{"/etc/ld.so.cache", "/usr/bin/dash", "/usr/lib/x86_64-linux-gnu"},
		Links: map[string]string{"/bin": "usr/bin", "/usr/bin/sh": "dash", "/lib64": "usr/lib64"}}
	got := rt.WithUserland(u)
	if want := []string{"/etc/ld.so.cache", "/usr"}; !slices.Equal(got.Paths, want) {
		t.Errorf("Paths = %q, want %q", got.Paths, want)
	}
	if want := map[string]string{"/bin": "usr/bin", "/lib64": "usr/lib64"}; len(got.Links) != len(want) || got.Links["/bin"] != "usr/bin" || got.Links["/lib64"] != "usr/lib64" {
		t.Errorf("Links = %q, want %q (a link inside a bound path arrives with it)", got.Links, want)
	}
	if len(rt.Paths) != 2 || len(rt.Links) != 1 {
		t.Errorf("the original Runtime changed: %+v", rt)
	}
	rt2 := &Runtime{Paths: []string{"/opt/py"}, Links: map[string]string{}}
	if got := rt2.WithUserland(u); !slices.Equal(got.Paths, []string{"/etc/ld.so.cache", "/opt/py", "/usr/bin/dash", "/usr/lib/x86_64-linux-gnu"}) || got.Links["/usr/bin/sh"] != "dash" {
		t.Errorf("merge: %+v", got)
	}
}
