package moattest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RegistryEnv is the path of a container registry binary
// (github.com/distribution/distribution/v3/cmd/registry), which .ci/run
// builds. When it is set the registry must work; when it is not, tests
// that need one look for `registry` on PATH and skip without it.
const RegistryEnv = "MOAT_TEST_REGISTRY"

// Registry starts a real, empty registry on 127.0.0.1 (where Docker and
// Podman may use plain HTTP) for the test and returns its address
// (host:port) and a stop function; it is stopped at the end of the test
// anyway. No registry is reachable from CI otherwise.
func Registry(t *testing.T) (addr string, stop func()) {
	t.Helper()
	bin := os.Getenv(RegistryEnv)
	if bin == "" {
		p, err := exec.LookPath("registry")
		if err != nil {
			t.Skipf("no registry binary: set %s (.ci/run builds github.com/distribution/distribution/v3/cmd/registry)", RegistryEnv)
		}
		bin = p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.yml")
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(bin, "serve", conf)
	var log bytes.Buffer
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatalf("registry: %v", err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			srv.Process.Kill()
			srv.Wait()
		}
	}
	t.Cleanup(stop)
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return addr, stop
		}
		if i == 100 {
			t.Fatalf("registry did not come up: %v\n%s", err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
