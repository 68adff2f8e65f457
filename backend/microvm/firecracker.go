package microvm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// firecracker boots VMs with Firecracker, configured through its API
// socket. UNVERIFIED: no Firecracker (and no KVM, which it needs) could be
// had where this was written; the client is tested against a server
// speaking its API only. Firecracker has no virtio-serial: its channel to
// moat is its vsock device, which Firecracker backs with a Unix socket on
// the host (never the host's vsock); the guest agent's side of that is not
// built, so start refuses.
type firecracker struct{}

func (f *firecracker) name() string { return "firecracker" }

func (f *firecracker) version(ctx context.Context) (string, error) {
	bin, err := exec.LookPath("firecracker")
	if err != nil {
		return "", errors.New("firecracker not found (install it from github.com/firecracker-microvm/firecracker releases)")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}

func (f *firecracker) start(cfg *vmConfig) (machine, error) {
	return nil, errors.New("firecracker engine: the guest agent's vsock channel is not built yet (use the qemu engine)")
}

// fcClient speaks Firecracker's API over its Unix socket.
type fcClient struct {
	http *http.Client
}

func newFCClient(socket string) *fcClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &fcClient{http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// put sends one PUT of the API; Firecracker answers 204 on success and a
// JSON {"fault_message": ...} otherwise.
func (c *fcClient) put(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://localhost"+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("firecracker api %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil
	}
	var fault struct {
		Message string `json:"fault_message"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&fault)
	return fmt.Errorf("firecracker api %s: %s: %s", path, resp.Status, clean(fault.Message))
}

// configure sets up a VM as moat's qemu engine does: the kernel and
// initramfs, the runtime image as a read-only drive (not the root device:
// the agent mounts it), the vCPUs and memory, the vsock whose host side is
// vsockPath, no network interface; then starts it.
func (c *fcClient) configure(ctx context.Context, cfg *vmConfig, vsockPath string) error {
	steps := []struct {
		path string
		body any
	}{
		{"/boot-source", map[string]any{"kernel_image_path": cfg.Kernel, "initrd_path": cfg.Initrd, "boot_args": cfg.Cmdline}},
		{"/drives/runtime", map[string]any{"drive_id": "runtime", "path_on_host": cfg.Root, "is_root_device": false, "is_read_only": true}},
		{"/machine-config", map[string]any{"vcpu_count": cfg.CPUs, "mem_size_mib": cfg.MemoryMiB, "smt": false}},
		{"/vsock", map[string]any{"guest_cid": 3, "uds_path": vsockPath}},
		{"/actions", map[string]any{"action_type": "InstanceStart"}},
	}
	for _, s := range steps {
		if err := c.put(ctx, s.path, s.body); err != nil {
			return err
		}
	}
	return nil
}
