//go:build linux

package microvm

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSnapshotKey: a saved guest is restored only into the same VM: the
// QEMU command line names its files by descriptor, so the initramfs and
// the runtime image must enter the key by path (a guest restored onto
// another image read garbage from its disk: "mount scratch: input/output
// error"). The run's own parts do not.
func TestSnapshotKey(t *testing.T) {
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinux")
	if err := os.WriteFile(kernel, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := vmConfig{Kernel: kernel, Initrd: "/c/initrd-a.cpio", Root: "/c/runtime-a.squashfs", Cmdline: "x", MemoryMiB: 400, CPUs: 1, Accel: "tcg"}
	key := func(c vmConfig) string {
		k, err := snapshotKey(&qemu{}, "7.2", &c)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := key(base)
	for name, c := range map[string]vmConfig{
		"root":   func() vmConfig { c := base; c.Root = "/c/runtime-b.squashfs"; return c }(),
		"initrd": func() vmConfig { c := base; c.Initrd = "/c/initrd-b.cpio"; return c }(),
		"memory": func() vmConfig { c := base; c.MemoryMiB = 500; return c }(),
	} {
		if key(c) == k0 {
			t.Errorf("a different %s gives the same snapshot key", name)
		}
	}
	own := base
	own.Dir, own.Console, own.Name, own.Incoming, own.QMP = "/run/x", "/run/x/console", "moat-microvm-1", "/c/snap", true
	if key(own) != k0 {
		t.Error("the run's own paths change the snapshot key")
	}
}
