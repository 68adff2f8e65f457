package treecopy

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name, body, link string
	typ              byte
}

func mkTar(t testing.TB, es []entry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return b.Bytes()
}

var big = Limits{Bytes: 1 << 20, Files: 100}

func TestRoundTrip(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "a/b"), 0o755)
	os.WriteFile(filepath.Join(src, "a/b/c.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(src, "top.py"), []byte("print(1)"), 0o755)
	os.Symlink("/etc/passwd", filepath.Join(src, "lnk"))
	var b bytes.Buffer
	if err := Pack(&b, src, big); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	rep, err := Unpack(&b, dst, big, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "a/b/c.txt")); string(got) != "hello" {
		t.Errorf("c.txt = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dst, "top.py")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("top.py lost its exec bit: %v %v", fi, err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "lnk")); !os.IsNotExist(err) {
		t.Errorf("a symlink was recreated: %v", err)
	}
	if rep.Files != 2 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "lnk") {
		t.Errorf("report = %+v", rep)
	}
}

func TestUnpackHostile(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name  string
		es    []entry
		check func(t *testing.T, dst string, rep *Report)
	}{
		{"dotdot", []entry{{name: "../escape.txt", body: "x", typ: tar.TypeReg}}, nil},
		{"deep dotdot", []entry{{name: "a/../../escape.txt", body: "x", typ: tar.TypeReg}}, nil},
		{"absolute", []entry{{name: outside + "/abs.txt", body: "x", typ: tar.TypeReg}}, nil},
		{"symlink then write through it", []entry{
			{name: "d", typ: tar.TypeSymlink, link: outside},
			{name: "d/owned.txt", body: "x", typ: tar.TypeReg},
		}, nil},
		{"hardlink", []entry{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}}, nil},
		{"device", []entry{{name: "dev", typ: tar.TypeChar}}, nil},
		{"fifo", []entry{{name: "fifo", typ: tar.TypeFifo}}, nil},
		{"duplicate does not overwrite", []entry{
			{name: "f", body: "first", typ: tar.TypeReg},
			{name: "f", body: "second", typ: tar.TypeReg},
		}, func(t *testing.T, dst string, rep *Report) {
			if b, _ := os.ReadFile(filepath.Join(dst, "f")); string(b) != "first" {
				t.Errorf("f = %q", b)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			rep, err := Unpack(bytes.NewReader(mkTar(t, tc.es)), dst, big, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Skipped) == 0 {
				t.Errorf("nothing reported skipped: %+v", rep)
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 0 {
				t.Fatalf("wrote outside the directory: %v", ents)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dst), "escape.txt")); err == nil {
				t.Fatal("escape.txt written beside the directory")
			}
			if tc.check != nil {
				tc.check(t, dst, rep)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	es := []entry{{name: "a", body: strings.Repeat("x", 600), typ: tar.TypeReg}, {name: "b", body: strings.Repeat("x", 600), typ: tar.TypeReg}}
	_, err := Unpack(bytes.NewReader(mkTar(t, es)), t.TempDir(), Limits{Bytes: 1000, Files: 10}, Options{})
	if !errors.Is(err, ErrLimit) {
		t.Errorf("byte cap: err = %v", err)
	}
	many := make([]entry, 20)
	for i := range many {
		many[i] = entry{name: strings.Repeat("f", i+1), typ: tar.TypeReg}
	}
	_, err = Unpack(bytes.NewReader(mkTar(t, many)), t.TempDir(), Limits{Bytes: 1000, Files: 10}, Options{})
	if !errors.Is(err, ErrLimit) {
		t.Errorf("count cap: err = %v", err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "big"), make([]byte, 5000), 0o644)
	if err := Pack(&bytes.Buffer{}, src, Limits{Bytes: 1000, Files: 10}); !errors.Is(err, ErrLimit) {
		t.Errorf("pack cap: err = %v", err)
	}
}

func TestReportEscapesNames(t *testing.T) {
	rep, err := Unpack(bytes.NewReader(mkTar(t, []entry{{name: "evil\x1b]0;x\x07", typ: tar.TypeSymlink, link: "/"}})), t.TempDir(), big, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Skipped {
		if strings.ContainsAny(s, "\x1b\x07") {
			t.Errorf("control characters in report: %q", s)
		}
	}
}

func FuzzUnpack(f *testing.F) {
	f.Add(mkTar(f, []entry{{name: "a/b", body: "x", typ: tar.TypeReg}, {name: "../c", body: "y", typ: tar.TypeReg}}))
	f.Add(mkTar(f, []entry{{name: "l", typ: tar.TypeSymlink, link: "/"}, {name: "l/x", body: "y", typ: tar.TypeReg}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		dst := filepath.Join(root, "dst")
		os.Mkdir(dst, 0o755)
		_, _ = Unpack(bytes.NewReader(data), dst, Limits{Bytes: 1 << 16, Files: 64}, Options{})
		// Nothing may appear beside dst, and no link inside it.
		ents, _ := os.ReadDir(root)
		if len(ents) != 1 {
			t.Fatalf("wrote beside the directory: %v", ents)
		}
		filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type()&os.ModeSymlink != 0 {
				t.Fatalf("link created: %s", p)
			}
			return nil
		})
	})
}
