package scanorder

import (
	"slices"
	"testing"
)

// TestOrder: what configures later starts is read before a bin
// directory's files (a venv's copies of the interpreter spent the read
// budget before its pyvenv.cfg: a high "not read whole" on docker and
// podman), and those before the rest.
func TestOrder(t *testing.T) {
	paths := []string{"/work/a.txt", "/work/.venvs/v/bin/python", "/work/.venvs/v/pyvenv.cfg", "/work/.venvs/v/bin/x.pth", "/home/u/.bashrc"}
	slices.SortFunc(paths, func(a, b string) int {
		if Less(a, b) {
			return -1
		}
		if Less(b, a) {
			return 1
		}
		return 0
	})
	want := []string{"/home/u/.bashrc", "/work/.venvs/v/bin/x.pth", "/work/.venvs/v/pyvenv.cfg", "/work/.venvs/v/bin/python", "/work/a.txt"}
	if !slices.Equal(paths, want) {
		t.Errorf("order %q, want %q", paths, want)
	}
	if !Interesting("/work/.venvs/v/bin/python") || Interesting("/work/a.txt") {
		t.Error("Interesting changed")
	}
}
