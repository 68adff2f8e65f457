package treecopy

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// deepTree makes levels nested directories "d" below root, through
// descriptors (past PATH_MAX too), with a file f at the bottom and one at
// depth 3.
func deepTree(t *testing.T, root string, levels int) {
	t.Helper()
	fd, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range levels {
		if i == 3 {
			f, err := unix.Openat(fd, "f", unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(f)
		}
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	f, err := unix.Openat(fd, "f", unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(f)
}

// TestDeepTree: a tree deeper than MaxDepth is copied down to MaxDepth
// and what is below is named as left out, once, with the reason; one of
// 2,100 levels (past PATH_MAX, where every path operation costs the whole
// depth) is copied as promptly, with the same note.
func TestDeepTree(t *testing.T) {
	for _, levels := range []int{MaxDepth + 40, 2100} {
		src, dst := t.TempDir(), filepath.Join(t.TempDir(), "out")
		deepTree(t, src, levels)
		rep, uerr, perr := Copy(src, dst, Limits{Bytes: 1 << 20, Files: 10000}, Options{})
		if uerr != nil || !errors.Is(perr, ErrLimit) {
			t.Fatalf("%d levels: unpack %v, pack %v (want ErrLimit)", levels, uerr, perr)
		}
		var deep []string
		for _, s := range rep.Skipped {
			if strings.Contains(s, "deeper than 256 levels") {
				deep = append(deep, s)
			}
		}
		if len(deep) != 1 {
			t.Errorf("%d levels: skipped %q, want one entry deeper than %d levels", levels, rep.Skipped, MaxDepth)
		}
		if rep.Dirs != MaxDepth {
			t.Errorf("%d levels: %d directories copied, want %d", levels, rep.Dirs, MaxDepth)
		}
		if _, err := os.Stat(filepath.Join(dst, "d", "d", "d", "f")); err != nil {
			t.Errorf("%d levels: the shallow file was not copied: %v", levels, err)
		}
	}
}

// TestUnpackDeep: a stream naming entries deeper than MaxDepth (a
// sender that does not bound its walk) gets them left out, named.
func TestUnpackDeep(t *testing.T) {
	name := strings.Repeat("d/", MaxDepth+5) + "f"
	dir := t.TempDir()
	rep, err := Unpack(bytes.NewReader(mkTar(t, []entry{{name: "ok", body: "x", typ: tar.TypeReg}, {name: name, body: "x", typ: tar.TypeReg}})), dir, big, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 1 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "deeper than") {
		t.Errorf("files %d, skipped %q: want ok only, the deep file named", rep.Files, rep.Skipped)
	}
	if _, err := os.Stat(filepath.Join(dir, "d")); err == nil {
		t.Error("the deep entry's directories were made")
	}
}

// TestUnpackDiskFull: a file the receiving side cannot write (a full
// disk) makes the copy incomplete (ErrIncomplete, so `--out` says
// out.error and moat exits 125), is listed, and leaves no part of itself;
// the files after it that fit are still written.
func TestUnpackDiskFull(t *testing.T) {
	dst := t.TempDir()
	if err := unix.Mount("tmpfs", dst, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("a small tmpfs to fill needs mount (root): %v", err)
	}
	defer unix.Unmount(dst, unix.MNT_DETACH)
	big := strings.Repeat("x", 1<<20)
	rep, err := Unpack(bytes.NewReader(mkTar(t, []entry{
		{name: "small", body: "a", typ: tar.TypeReg},
		{name: "big", body: big, typ: tar.TypeReg},
		{name: "after", body: "b", typ: tar.TypeReg},
	})), dst, Limits{Bytes: 1 << 30, Files: 10}, Options{})
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "1 entries could not be written, first big") {
		t.Errorf("err = %v, want ErrIncomplete naming big", err)
	}
	if _, serr := os.Stat(filepath.Join(dst, "big")); !os.IsNotExist(serr) {
		t.Errorf("a part of big stays: %v", serr)
	}
	for _, f := range []string{"small", "after"} {
		if _, serr := os.Stat(filepath.Join(dst, f)); serr != nil {
			t.Errorf("%s: %v", f, serr)
		}
	}
	if rep.Files != 2 || rep.Bytes != 2 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "no space left on device") {
		t.Errorf("report = %+v", rep)
	}
}
