package moattest

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// AsUserEnv, set to 1, tells a test that AsUser started it as another
// user (the test's own guard: without it, the test skips).
const AsUserEnv = "MOAT_TEST_AS_USER"

// AsUser runs the test named test of this test binary as the
// unprivileged user u (runuser, from a root test; u's supplementary
// groups included) and fails unless it passes: moat run by a user who is
// not root, for real. The binary is copied where u can run it; the child
// has AsUserEnv=1, PATH, MOAT_TEST_IMAGE, the user's XDG_RUNTIME_DIR if
// it has one, and env; it starts in u's home.
func AsUser(t *testing.T, u, test string, env ...string) {
	t.Helper()
	pw, err := user.Lookup(u)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "moat-as-user-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, filepath.Base(os.Args[0]))
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	env = append([]string{AsUserEnv + "=1", "MOAT_TEST_IMAGE=" + os.Getenv("MOAT_TEST_IMAGE"), "PATH=" + os.Getenv("PATH")}, env...)
	if fi, err := os.Stat("/run/user/" + pw.Uid); err == nil && fi.IsDir() {
		env = append(env, "XDG_RUNTIME_DIR=/run/user/"+pw.Uid)
	}
	cmd := exec.Command("runuser", "-u", u, "--", "env", "-C", pw.HomeDir)
	cmd.Args = append(cmd.Args, append(env, exe, "-test.run", "^"+test+"$", "-test.count=1", "-test.v")...)
	out, err := cmd.CombinedOutput()
	t.Logf("as %s:\n%s", u, out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s as %s: %v", test, u, err)
	}
}
