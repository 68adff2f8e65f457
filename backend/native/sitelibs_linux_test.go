package native_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/moattest"
)

// TestSiteModuleLibrary: an extension module in the site directory of the
// interpreter (a venv's) that needs a library outside every path the
// runtime brings otherwise is importable in the sandbox: pyrt binds the
// directories of the libraries the site directories' modules need. The
// module is nacl's _sodium (python3-nacl, with python3-paramiko in CI)
// with its DT_NEEDED libsodium.so.23 rewritten to an absolute path of the
// same length, /opt/mNNNN/l.so, a copy of libsodium: the loader opens that
// path as it is, as it would a library of an RPATH outside /usr. (Not
// under /tmp, nor the venv: the sandbox has a /tmp of its own.)
func TestSiteModuleLibrary(t *testing.T) {
	moattest.RequireBackend(t, "native")
	const module = "/usr/lib/python3/dist-packages/nacl/_sodium.abi3.so"
	lib, err := filepath.EvalSymlinks("/usr/lib/x86_64-linux-gnu/libsodium.so.23")
	if err != nil {
		t.Skip("no libsodium.so.23 (python3-nacl; CI has it with python3-paramiko)")
	}
	elf, err := os.ReadFile(module)
	if err != nil {
		t.Skip("no python3-nacl (CI has it with python3-paramiko)")
	}
	var dir string
	for range 100 {
		d := fmt.Sprintf("/opt/m%04d", rand.IntN(10000))
		if err := os.Mkdir(d, 0o755); err == nil {
			dir = d
			break
		}
	}
	if dir == "" {
		t.Skip("cannot make /opt/mNNNN")
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := dir + "/l.so"
	if len(path) != len("libsodium.so.23") {
		t.Fatalf("%s is not as long as libsodium.so.23", path)
	}
	b, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	patched := bytes.ReplaceAll(elf, []byte("libsodium.so.23\x00"), []byte(path+"\x00"))
	if bytes.Equal(patched, elf) {
		t.Fatalf("%s does not name libsodium.so.23", module)
	}
	base, err := os.MkdirTemp("/var/tmp", "sitelibs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	venv := filepath.Join(base, "v")
	if out, err := exec.Command(systemPython, "-m", "venv", "--without-pip", "--system-site-packages", venv).CombinedOutput(); err != nil {
		t.Skipf("python3 -m venv: %v: %s", err, out)
	}
	sites, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages"))
	if len(sites) != 1 {
		t.Fatalf("site-packages of %s: %q", venv, sites)
	}
	if err := os.WriteFile(filepath.Join(sites[0], "_sodium.abi3.so"), patched, 0o644); err != nil {
		t.Fatal(err)
	}
	py := filepath.Join(venv, "bin", "python")
	code := "import _sodium; print(_sodium.lib.sodium_init() >= 0)"
	// On the host the module loads its library from the new path.
	if out, err := exec.Command(py, "-c", code).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "True" {
		t.Fatalf("on the host: %v: %s", err, out)
	}
	res, err := newBackend().Run(context.Background(), &moat.Spec{Args: []string{"-c", code}, Python: py})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "True" {
		t.Errorf("import in the sandbox: %s exit %d %q\nstdout %q\nstderr %q", res.Status, res.ExitCode, res.Error, res.Stdout, res.Stderr)
	}
}
