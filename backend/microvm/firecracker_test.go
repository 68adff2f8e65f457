package microvm

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeFirecracker is an HTTP server on a Unix socket that answers as
// Firecracker's API does (204, or 400 with a fault_message), checks the
// bodies against the API's required fields, and records the calls.
type fakeFirecracker struct {
	mu     sync.Mutex
	calls  []string
	bodies map[string]map[string]any
	failOn string
}

func (f *fakeFirecracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if r.Method != http.MethodPut || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"fault_message": "bad request"})
		return
	}
	required := map[string][]string{
		"/boot-source":    {"kernel_image_path"},
		"/drives/runtime": {"drive_id", "path_on_host", "is_root_device", "is_read_only"},
		"/machine-config": {"vcpu_count", "mem_size_mib"},
		"/vsock":          {"guest_cid", "uds_path"},
		"/actions":        {"action_type"},
	}[r.URL.Path]
	f.mu.Lock()
	f.calls = append(f.calls, r.URL.Path)
	f.bodies[r.URL.Path] = body
	f.mu.Unlock()
	for _, k := range required {
		if _, ok := body[k]; !ok {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"fault_message": "missing " + k})
			return
		}
	}
	if r.URL.Path == f.failOn {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"fault_message": "Invalid kernel path\x1b[2J"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func serveFake(t *testing.T, f *fakeFirecracker) string {
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(f)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return sock
}

func TestFirecrackerConfigure(t *testing.T) {
	f := &fakeFirecracker{bodies: map[string]map[string]any{}}
	c := newFCClient(serveFake(t, f))
	cfg := &vmConfig{Kernel: "/k/vmlinux", Initrd: "/c/initrd.cpio", Root: "/c/runtime.squashfs", Cmdline: kernelCmdline("kvm", 0), CPUs: 1, MemoryMiB: 640}
	if err := c.configure(context.Background(), cfg, "/run/x/vsock"); err != nil {
		t.Fatal(err)
	}
	want := "/boot-source /drives/runtime /machine-config /vsock /actions"
	if got := strings.Join(f.calls, " "); got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if b := f.bodies["/drives/runtime"]; b["is_read_only"] != true || b["is_root_device"] != false || b["path_on_host"] != cfg.Root {
		t.Errorf("runtime drive: %v", b)
	}
	if b := f.bodies["/machine-config"]; b["mem_size_mib"] != float64(640) || b["vcpu_count"] != float64(1) {
		t.Errorf("machine config: %v", b)
	}
	if b := f.bodies["/boot-source"]; !strings.Contains(b["boot_args"].(string), "rdinit=/init") {
		t.Errorf("boot args: %v", b)
	}
	if b := f.bodies["/actions"]; b["action_type"] != "InstanceStart" {
		t.Errorf("action: %v", b)
	}
	for _, p := range f.calls {
		if strings.HasPrefix(p, "/network-interfaces") {
			t.Errorf("a network interface was configured: %s", p)
		}
	}
}

// TestFirecrackerFault: a fault stops the configuration there, and its
// message (from the VMM, escaped) is in the error.
func TestFirecrackerFault(t *testing.T) {
	f := &fakeFirecracker{bodies: map[string]map[string]any{}, failOn: "/boot-source"}
	c := newFCClient(serveFake(t, f))
	err := c.configure(context.Background(), &vmConfig{Kernel: "/nope"}, "/v")
	if err == nil || !strings.Contains(err.Error(), "Invalid kernel path") || strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("error %v, want the fault message, escaped", err)
	}
	if len(f.calls) != 1 {
		t.Errorf("calls after the fault: %q", f.calls)
	}
}
