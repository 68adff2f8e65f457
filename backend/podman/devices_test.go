package podman

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDevProblem: a rootless user whose storage mounts through
// fuse-overlayfs is told in one line that /dev/fuse's mode keeps it out,
// and how to fix it; with the mode a distribution's udev sets, or storage
// without a FUSE program, nothing is said. The device is a stand-in file
// with the same owner and modes (changing the real /dev/fuse would break
// other runs on this machine); .ci/run checks the real one.
func TestDevProblem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the stand-in device must be owned by root")
	}
	home := t.TempDir()
	conf := filepath.Join(home, ".config", "containers")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(t.TempDir(), "fuse")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := fuseDevice
	fuseDevice = dev
	t.Cleanup(func() { fuseDevice = old })
	m := &mode{rootless: true, cred: &syscall.Credential{Uid: 65534, Gid: 65534}, dir: home, cgroups: true}

	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(conf, "storage.conf"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name    string
		storage string
		perm    os.FileMode
		want    string
	}{
		{"fuse-0600", "[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", 0o600, "chmod 0666 " + dev},
		{"fuse-0666", "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", 0o666, ""},
		{"native-overlay", "[storage]\ndriver = \"overlay\"\n", 0o600, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			write(c.storage)
			if err := os.Chmod(dev, c.perm); err != nil {
				t.Fatal(err)
			}
			got := m.devProblem()
			if c.want == "" {
				if got != "" {
					t.Fatalf("devProblem = %q, want nothing", got)
				}
				return
			}
			for _, w := range []string{c.want, "mode 0600", "uid 65534", "fuse-overlayfs"} {
				if !strings.Contains(got, w) {
					t.Errorf("devProblem = %q, want it to name %q", got, w)
				}
			}
			if strings.Contains(got, "\n") {
				t.Errorf("devProblem is more than one line: %q", got)
			}
		})
	}
	// A rootful podman does not open /dev/fuse as another user.
	write("[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n")
	_ = os.Chmod(dev, 0o600)
	if got := (&mode{}).devProblem(); got != "" {
		t.Errorf("rootful: devProblem = %q, want nothing", got)
	}
}
