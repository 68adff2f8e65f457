package audit

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// realPython is the host's interpreter with symlinks resolved, or a skip.
func realPython(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err == nil {
		// pyenv shims are scripts: ask the interpreter where it is.
		out, err2 := exec.Command(p, "-I", "-S", "-c", "import sys; print(sys.executable)").Output()
		if err2 == nil {
			p = strings.TrimSpace(string(out))
		}
	}
	if err != nil || p == "" {
		t.Skip("no python3 on PATH")
	}
	return p
}

func TestCompile(t *testing.T) {
	py := realPython(t)
	dir := t.TempDir()
	bc, err := Compile(py, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(bc.Tag, "cpython-") || !strings.HasPrefix(bc.Name(), "__pycache__/sitecustomize.cpython-") {
		t.Fatalf("tag %q name %q", bc.Tag, bc.Name())
	}
	// The interpreter loads it: import it as sitecustomize from a
	// directory holding the source and this .pyc, verbosely.
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "sitecustomize.py"), []byte(Hook()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, "__pycache__"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, bc.Name()), bc.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", "pass")
	cmd.Env = []string{"PYTHONPATH=" + src, "PYTHONVERBOSE=1"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if want := "code object from '" + filepath.Join(src, bc.Name()) + "'"; !bytes.Contains(out, []byte(want)) {
		t.Fatalf("the interpreter did not load the .pyc (%s):\n%s", want, out)
	}

	// A second call reads the cache: change the cached .pyc (keeping it
	// well-formed) and see the change come back.
	files, _ := filepath.Glob(filepath.Join(dir, "hook-*.pyc"))
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, 'X')
	if err := os.WriteFile(files[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := Compile(py, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Data, append(append([]byte{}, bc.Data...), 'X')) {
		t.Fatal("second Compile did not come from the cache")
	}
	// A corrupt entry is compiled again, not used.
	if err := os.WriteFile(files[0], []byte("cpython-311\nnot a pyc at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh, err := Compile(py, dir)
	if err != nil || !bytes.Equal(fresh.Data, bc.Data) {
		t.Fatalf("corrupt cache entry: %v", err)
	}
}

func TestCompileFails(t *testing.T) {
	if _, err := Compile("/bin/false", ""); err == nil || !strings.Contains(err.Error(), "/bin/false") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Compile("/nonexistent/python", ""); err == nil {
		t.Fatal("no error for a missing interpreter")
	}
}

func TestParseCompiled(t *testing.T) {
	good := append([]byte("cpython-311\n\xa7\r\r\n\x01\x00\x00\x00"), make([]byte, 16)...)
	if _, err := ParseCompiled(good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"", "cpython-311", "CPython\n" + string(good[12:]), "../x\n" + string(good[12:]),
		"cpython-311\n\xa7\r\r\n\x03\x00\x00\x00" + strings.Repeat("\x00", 16), // checked: would be re-validated against the source
		"cpython-311\nshort",
	} {
		if _, err := ParseCompiled([]byte(bad)); err == nil {
			t.Errorf("ParseCompiled(%q) accepted", bad)
		}
	}
}
