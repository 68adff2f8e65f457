package microvm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckKernel: a bzImage's setup header or a PVH vmlinux pass; a
// missing file, a directory, text and an ELF file without the PVH note
// are refused, each with a reason.
func TestCheckKernel(t *testing.T) {
	dir := t.TempDir()
	bz := make([]byte, 0x400)
	copy(bz[0x202:], "HdrS")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	self, err := os.Executable() // an x86-64 (or other) ELF file without a PVH note
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, want string // want "" passes
	}{
		{"bzimage", write("bzImage", bz), ""},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"directory", dir, "not a regular file"},
		{"text", write("text", []byte("not a kernel\n")), "not a bootable kernel"},
		{"short", write("short", []byte("\x7fEL")), "not a bootable kernel"},
		{"elf-without-pvh", self, "not a bootable kernel"},
	} {
		err := CheckKernel(c.path)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want it accepted", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	// The PVH vmlinux .ci/setup-microvm.sh extracts, when it is here.
	if _, err := os.Stat(systemCache + "/vmlinux"); err == nil {
		if err := CheckKernel(systemCache + "/vmlinux"); err != nil {
			t.Errorf("the setup's vmlinux: %v", err)
		}
	}
}
