package audit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartupOnce: an interpreter started with -S imports the encodings
// package with the hook's loader and says hello once, also when the
// program then runs the site directory's .pth line itself (site.addsitedir
// after -S); the package's source ends with the loader and its .pyc is
// the unchecked hash-based kind. The runtime is the host's python3, its
// standard library given by PYTHONHOME: a copy of encodings with the new
// __init__.py and .pyc (what the backends put over the runtime's).
func TestStartupOnce(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	out, err := exec.Command(py, "-I", "-S", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Skip("python3 does not run")
	}
	python := strings.TrimSpace(string(out))
	dir := t.TempDir()
	site, channel := filepath.Join(dir, "site"), filepath.Join(dir, "audit")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{Module + ".py": Hook(), PthFile: PthLine(channel)} {
		if err := os.WriteFile(filepath.Join(site, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(channel, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := CompileStartup(python, site, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(st.Source), StartupLoader(site)) || st.Pyc[4] != 1 {
		t.Fatalf("source ends %q, .pyc flags %d", st.Source[max(0, len(st.Source)-80):], st.Pyc[4])
	}
	// PYTHONHOME/lib/pythonX.Y/encodings: the package's own modules,
	// then the new __init__.py and its .pyc over them.
	pkgDir := filepath.Dir(st.Path)
	home := filepath.Join(dir, "home")
	pkg := filepath.Join(home, "lib", filepath.Base(filepath.Dir(pkgDir)), "encodings")
	if err := os.MkdirAll(filepath.Join(pkg, "__pycache__"), 0o755); err != nil {
		t.Fatal(err)
	}
	mods, _ := filepath.Glob(filepath.Join(pkgDir, "*.py"))
	for _, m := range mods {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pkg, filepath.Base(m)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(pkg, "__init__.py"), st.Source, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, st.PycName()), st.Pyc, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		flags []string
		code  string
		hello int
	}{
		{"-S", []string{"-S"}, "pass", 1},
		{"-S -s -B", []string{"-S", "-s", "-B"}, "pass", 1},
		{"-S, then the .pth line", []string{"-S"}, "import site; site.addsitedir(" + `"` + site + `"` + ")", 1},
	} {
		if err := os.WriteFile(channel, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(python, append(c.flags, "-c", c.code)...)
		cmd.Env = []string{"PYTHONHOME=" + home}
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", c.name, err, b)
		}
		b, err := os.ReadFile(channel)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), `"k":"hello"`); n != c.hello {
			t.Errorf("%s: %d hellos, want %d: %.300s", c.name, n, c.hello, b)
		}
	}
}
