package microvm

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

// TestInitramfs: the archive has moat's binary as /init, the modules in
// order, the console and null devices, the root's mount point; a Linux
// reader (u-root's) takes it.
func TestInitramfs(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "moat")
	mods := []string{filepath.Join(dir, "virtio.ko"), filepath.Join(dir, "squashfs.ko")}
	for i, p := range append([]string{self}, mods...) {
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte('a' + i)}, 1000+i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := writeInitramfs(&b, self, &Kernel{Modules: mods}); err != nil {
		t.Fatal(err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(b.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]cpio.Record{}
	for _, r := range recs {
		got[r.Name] = r
	}
	for name, mode := range map[string]uint64{
		"init": cpio.S_IFREG | 0o755, "lib/modules/01-virtio.ko": cpio.S_IFREG | 0o755, "lib/modules/02-squashfs.ko": cpio.S_IFREG | 0o755,
		"dev/console": cpio.S_IFCHR | 0o600, "dev/null": cpio.S_IFCHR | 0o666, "newroot": cpio.S_IFDIR | 0o755,
	} {
		r, ok := got[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if r.Mode != mode {
			t.Errorf("%s: mode %o, want %o", name, r.Mode, mode)
		}
	}
	if r := got["dev/console"]; r.Rmajor != 5 || r.Rminor != 1 {
		t.Errorf("dev/console is %d,%d, want 5,1", r.Rmajor, r.Rminor)
	}
	if r := got["init"]; r.FileSize != 1000 {
		t.Errorf("init: %d bytes, want 1000", r.FileSize)
	}
}

// TestStageHostFile: a file reached through links is staged with every
// link on the way, as the loader walks them on the host.
func TestStageHostFile(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "usr/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "usr/lib/libx.so.1.2"), []byte("elf"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The file's time goes with it (a .pyc's source must keep the time
	// recorded in the .pyc, or Python compiles it again on every import).
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(src, "usr/lib/libx.so.1.2"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/lib", filepath.Join(src, "lib")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("libx.so.1.2", filepath.Join(src, "usr/lib/libx.so.1")); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	s := &stage{root: dst, seen: map[string]bool{}}
	if err := hostFile(s, filepath.Join(src, "lib/libx.so.1"), 0); err != nil {
		t.Fatal(err)
	}
	if l, err := os.Readlink(filepath.Join(dst, src, "lib")); err != nil || l != "usr/lib" {
		t.Errorf("lib link: %q %v", l, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, src, "usr/lib/libx.so.1")); err != nil || l != "libx.so.1.2" {
		t.Errorf("soname link: %q %v", l, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, src, "lib/libx.so.1")); err != nil || string(b) != "elf" {
		t.Errorf("through the links: %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, src, "usr/lib/libx.so.1.2")); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("the staged file's time is not the host file's: %v %v", fi.ModTime(), err)
	}
	// And through tree, as the standard library is copied.
	dst2 := t.TempDir()
	s2 := &stage{root: dst2, seen: map[string]bool{}}
	if err := tree(s2, filepath.Join(src, "usr/lib"), nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dst2, src, "usr/lib/libx.so.1.2")); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("tree: the staged file's time is not the host file's: %v %v", fi.ModTime(), err)
	}
}
