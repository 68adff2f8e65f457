package moattest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
)

// RequireEnv names the backends CI has installed and requires, as a comma
// list or "all". A required backend that is unavailable fails its tests
// instead of skipping them, so it cannot silently drop out of CI.
const RequireEnv = "MOAT_REQUIRE_BACKENDS"

// RequireBackend returns a new instance of the named backend, or skips the
// test with the reason the backend is unavailable (not built, or its Check
// failed). If [RequireEnv] names the backend, it fails the test instead.
func RequireBackend(t testing.TB, name string) moat.Backend {
	t.Helper()
	b, err := moat.Get(name)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = moat.Check(ctx, b)
	}
	if err == nil {
		return b
	}
	if required(os.Getenv(RequireEnv), name) {
		t.Fatalf("backend %s is unavailable but %s=%q requires it: %v", name, RequireEnv, os.Getenv(RequireEnv), err)
	}
	t.Skipf("backend %s is unavailable: %v", name, err)
	return nil
}

// Required reports whether [RequireEnv] requires the named backend.
func Required(name string) bool {
	return required(os.Getenv(RequireEnv), name)
}

func required(list, name string) bool {
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "all" || (n != "" && n == name) {
			return true
		}
	}
	return false
}

// RequirePython skips the test unless the host interpreter py imports
// every one of modules (Debian's python3-* packages, which .ci/run
// installs). Where [RequireEnv] is set (CI), a missing one fails the test
// instead: CI installs them, so it cannot silently drop out.
func RequirePython(t testing.TB, py string, modules ...string) {
	t.Helper()
	for _, m := range modules {
		out, err := exec.Command(py, "-c", "import "+m).CombinedOutput()
		if err == nil {
			continue
		}
		msg := fmt.Sprintf("%s cannot import %s (%v: %s)", py, m, err, bytes.TrimSpace(out))
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%s, but %s=%q: CI installs it (.ci/run)", msg, RequireEnv, os.Getenv(RequireEnv))
		}
		t.Skip(msg)
	}
}
