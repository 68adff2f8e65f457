package pyrt

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const debianExe = "/usr/bin/python3.11"

func baseNames(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}

func needed(t *testing.T, p string) []string {
	t.Helper()
	f, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.DynString(elf.DT_NEEDED)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWalkLibrariesExecutable(t *testing.T) {
	requireFile(t, debianExe)
	libs, err := walkLibraries(debianExe, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := ptInterp(t, debianExe); libs.interp != want {
		t.Errorf("interp = %q, want %q", libs.interp, want)
	}
	names := baseNames(libs.found)
	for _, so := range append(needed(t, debianExe), "libc.so.6") {
		if !slices.Contains(names, so) {
			t.Errorf("found %q lacks %s", libs.found, so)
		}
	}
	if len(libs.missing) != 0 {
		t.Errorf("missing = %q", libs.missing)
	}
	for _, p := range libs.found {
		if !filepath.IsAbs(p) {
			t.Errorf("found path %q is not absolute", p)
		}
	}
}

// TestWalkLibrariesDynload checks that every DT_NEEDED of every extension
// module is accounted for, found or missing.
func TestWalkLibrariesDynload(t *testing.T) {
	requireFile(t, debianExe)
	dynload := "/usr/lib/python3.11/lib-dynload"
	requireFile(t, dynload)
	libs, err := walkLibraries(debianExe, []string{dynload})
	if err != nil {
		t.Fatal(err)
	}
	names := baseNames(libs.found)
	mods, _ := filepath.Glob(filepath.Join(dynload, "*.so"))
	if len(mods) == 0 {
		t.Skip("no extension modules in " + dynload)
	}
	for _, m := range mods {
		for _, so := range needed(t, m) {
			if !slices.Contains(names, so) && !slices.Contains(libs.missing, so) {
				t.Errorf("%s needs %s: neither found nor missing", filepath.Base(m), so)
			}
		}
	}
	t.Logf("%d libraries found, missing %q", len(libs.found), libs.missing)
}

// TestWalkLibrariesMissing patches a module's DT_NEEDED to a library that
// does not exist: it is reported, not fatal.
func TestWalkLibrariesMissing(t *testing.T) {
	requireFile(t, debianExe)
	mods, _ := filepath.Glob("/usr/lib/python3.11/lib-dynload/_bz2.*.so")
	if len(mods) == 0 {
		t.Skip("needs Debian's _bz2 extension module")
	}
	b, err := os.ReadFile(mods[0])
	if err != nil {
		t.Fatal(err)
	}
	patched := bytes.Replace(b, []byte("libbz2.so.1.0\x00"), []byte("libzz9.so.1.0\x00"), 1)
	if bytes.Equal(patched, b) {
		t.Skip("_bz2 does not name libbz2.so.1.0")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(mods[0])), patched, 0o644); err != nil {
		t.Fatal(err)
	}
	// A non-ELF ".so" in lib-dynload is skipped.
	os.WriteFile(filepath.Join(dir, "junk.so"), []byte("not elf"), 0o644)
	libs, err := walkLibraries(debianExe, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(libs.missing, []string{"libzz9.so.1.0"}) {
		t.Errorf("missing = %q, want [libzz9.so.1.0]", libs.missing)
	}
}

func TestWalkLibrariesNotELF(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
	if _, err := walkLibraries(p, nil); err == nil {
		t.Error("walkLibraries on a script: want an error")
	}
}

func TestExpandPaths(t *testing.T) {
	got := expandPaths([]string{"$ORIGIN/../lib:/opt/x", "${ORIGIN}/a::rel/dir:$PLATFORM/y:/usr/$LIB"}, "/p/bin")
	want := []string{"/p/lib", "/opt/x", "/p/bin/a", "/usr/lib"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("expandPaths = %q, want %q", got, want)
	}
}

func TestLdSoConfDirs(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "ld.so.conf"), []byte("# top\n/opt/a\ninclude conf.d/*.conf\nhwcap 0 nosegneg\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "conf.d", "b.conf"), []byte("/opt/b # comment\n\nrelative\n/opt/c=libc5,/opt/d\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "conf.d", "a.conf"), []byte("/opt/first\ninclude "+filepath.Join(dir, "ld.so.conf")+"\n"), 0o644) // loops are bounded
	got := dedupe(ldSoConfDirs(filepath.Join(dir, "ld.so.conf")))
	want := []string{"/opt/a", "/opt/first", "/opt/b", "/opt/c", "/opt/d"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ldSoConfDirs = %q, want %q", got, want)
	}
}

func TestMinimal(t *testing.T) {
	tests := []struct{ in, want []string }{
		{nil, nil},
		{[]string{"/usr/lib", "/usr", "/usr-x", "/usr/lib/x"}, []string{"/usr", "/usr-x"}},
		{[]string{"/a/b", "/a/b/", "/a/bc", "/etc/ld.so.cache"}, []string{"/a/b", "/a/bc", "/etc/ld.so.cache"}},
		{[]string{"/x", "/"}, []string{"/"}},
	}
	for _, tt := range tests {
		if got := minimal(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("minimal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLinkWalker(t *testing.T) {
	root := t.TempDir()
	root, _ = filepath.EvalSymlinks(root)
	mk := func(p string) { os.MkdirAll(filepath.Join(root, p), 0o755) }
	ln := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	mk("usr/lib64")
	mk("usr/lib/x86_64-linux-gnu")
	os.WriteFile(filepath.Join(root, "usr/lib/x86_64-linux-gnu/ld.so"), nil, 0o755)
	ln("usr/lib64", "lib64")
	ln("usr/lib", "lib")
	ln(filepath.Join(root, "lib/x86_64-linux-gnu/ld.so"), "usr/lib64/ld.so")
	ln("../lib/./x86_64-linux-gnu", "usr/lib64/multi")
	ln("loop2", "loop1")
	ln("loop1", "loop2")

	w := newLinkWalker()
	got, err := w.walk(filepath.Join(root, "lib64/ld.so"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "usr/lib/x86_64-linux-gnu/ld.so"); got != want {
		t.Errorf("walk = %q, want %q", got, want)
	}
	if got, err := w.walk(root + "/lib64/multi/../x86_64-linux-gnu/ld.so"); err != nil || got != filepath.Join(root, "usr/lib/x86_64-linux-gnu/ld.so") {
		t.Errorf("walk through relative link and ..: %q, %v", got, err)
	}
	want := map[string]string{
		root + "/lib64":           "usr/lib64",
		root + "/lib":             "usr/lib",
		root + "/usr/lib64/ld.so": root + "/lib/x86_64-linux-gnu/ld.so",
		root + "/usr/lib64/multi": "../lib/./x86_64-linux-gnu",
	}
	if !reflect.DeepEqual(w.links, want) {
		t.Errorf("links = %v, want %v", w.links, want)
	}
	// Links inside a bound path come with the bind and are dropped.
	out := w.outside([]string{root + "/usr/lib64"})
	if _, ok := out[root+"/usr/lib64/ld.so"]; ok || len(out) != 2 {
		t.Errorf("outside = %v", out)
	}
	if _, err := w.walk(filepath.Join(root, "loop1")); err == nil || !strings.Contains(err.Error(), "too many levels") {
		t.Errorf("loop: err = %v", err)
	}
	if _, err := w.walk(filepath.Join(root, "usr/lib/x86_64-linux-gnu/ld.so/x")); err == nil {
		t.Error("file used as a directory: want an error")
	}
}

func TestParsePyvenvCfg(t *testing.T) {
	in := "home = /usr/bin\n# comment\nInclude-System-Site-Packages=false\nversion = 3.11.2\nbogus line\nexecutable = /usr/bin/python3.11\ncommand = /usr/bin/python3 -m venv /x = y\n"
	got, err := parsePyvenvCfg(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"home":                         "/usr/bin",
		"include-system-site-packages": "false",
		"version":                      "3.11.2",
		"executable":                   "/usr/bin/python3.11",
		"command":                      "/usr/bin/python3 -m venv /x = y",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsePyvenvCfg = %v, want %v", got, want)
	}
}

func TestParseIntrospection(t *testing.T) {
	good := `moat-pyrt:{"executable":"/usr/bin/python3","prefix":"/usr","base_prefix":"/usr","exec_prefix":"/usr","base_exec_prefix":"/usr","version":"3.11.2","platlibdir":"lib","dynload":["/usr/lib/python3.11/lib-dynload"]}`
	tests := []struct {
		name, out, wantErr string
	}{
		{"good", good + "\n", ""},
		{"noise before", "pyenv: hello\n" + good + "\n", ""},
		{"empty", "", "output not JSON"},
		{"no marker", `{"executable":"/x"}`, "output not JSON"},
		{"truncated", "moat-pyrt:{\"executable\":", "output not JSON"},
		{"relative exe", `moat-pyrt:{"executable":"python","prefix":"/usr","version":"3.1.1"}`, "not an absolute path"},
		{"empty exe", `moat-pyrt:{"executable":"","prefix":"/usr","version":"3.1.1"}`, "not an absolute path"},
		{"relative prefix", `moat-pyrt:{"executable":"/p","prefix":"usr","version":"3.1.1"}`, "not an absolute path"},
		{"no prefix", `moat-pyrt:{"executable":"/p","version":"3.1.1"}`, "empty sys.prefix"},
		{"bad version", `moat-pyrt:{"executable":"/p","prefix":"/usr","version":"3"}`, "bad version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := parseIntrospection([]byte(tt.out))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if info.Executable != "/usr/bin/python3" || info.Version != "3.11.2" || len(info.Dynload) != 1 {
					t.Errorf("info = %+v", info)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzParseIntrospection(f *testing.F) {
	f.Add([]byte(`moat-pyrt:{"executable":"/usr/bin/python3","prefix":"/usr","version":"3.11.2","dynload":["/a"]}`))
	f.Add([]byte("moat-pyrt:\nmoat-pyrt:{}"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := parseIntrospection(b)
		if err != nil {
			return
		}
		if !filepath.IsAbs(info.Executable) || !filepath.IsAbs(info.Prefix) || majorMinor(info.Version) == "" {
			t.Errorf("accepted invalid introspection %+v", info)
		}
	})
}

func FuzzParsePyvenvCfg(f *testing.F) {
	f.Add("home = /usr/bin\nversion = 3.11.2\n")
	f.Add("=\n==\n#x=y\n KEY = v = w ")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := parsePyvenvCfg(strings.NewReader(s))
		if err != nil {
			return
		}
		for k, v := range cfg {
			if k != strings.ToLower(k) || k != strings.TrimSpace(k) || v != strings.TrimSpace(v) {
				t.Errorf("key %q value %q not normalised", k, v)
			}
		}
	})
}

func FuzzMinimal(f *testing.F) {
	f.Add("/usr\x00/usr/lib\x00/usr-x\x00/")
	f.Fuzz(func(t *testing.T, s string) {
		var in []string
		for _, p := range strings.Split(s, "\x00") {
			if filepath.IsAbs(p) {
				in = append(in, p)
			}
		}
		out := minimal(in)
		if !slices.IsSorted(out) {
			t.Errorf("not sorted: %q", out)
		}
		for _, p := range in {
			if !covered(filepath.Clean(p), out) {
				t.Errorf("%q lost from %q", p, out)
			}
		}
		for i, p := range out {
			for j, q := range out {
				if i != j && (p == q || covered(p, []string{q})) {
					t.Errorf("%q under %q", p, q)
				}
			}
		}
	})
}
