package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// member is one entry of a test archive.
type member struct {
	name, body, link string
	typ              byte // tar type flag; 0 = regular
	mode             int64
	size             int64 // for zeros bodies; 0 = len(body)
	pax              map[string]string
}

func makeTarGz(t testing.TB, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	for _, m := range ms {
		if m.typ == tar.TypeXGlobalHeader {
			if err := tw.WriteHeader(&tar.Header{Name: m.name, Typeflag: m.typ, PAXRecords: m.pax}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		h := &tar.Header{Name: m.name, Linkname: m.link, Typeflag: m.typ, Mode: 0o644, Format: tar.FormatPAX}
		if m.mode != 0 {
			h.Mode = m.mode
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(m.body))
			if m.size > 0 {
				h.Size = m.size
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if m.size > 0 {
				zero := make([]byte, 1<<20)
				for left := m.size; left > 0; {
					n := min(left, int64(len(zero)))
					tw.Write(zero[:n])
					left -= n
				}
			} else {
				tw.Write([]byte(m.body))
			}
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func makeZip(t testing.TB, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		mode := fs.FileMode(0o644)
		switch m.typ {
		case tar.TypeSymlink:
			mode = fs.ModeSymlink | 0o777
			m.body = m.link
		case tar.TypeDir:
			mode = fs.ModeDir | 0o755
		case tar.TypeChar:
			mode = fs.ModeDevice | fs.ModeCharDevice | 0o644
		}
		if m.mode&0o4000 != 0 {
			mode |= fs.ModeSetuid
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if m.size > 0 {
			zero := make([]byte, 1<<20)
			for left := m.size; left > 0; {
				n := min(left, int64(len(zero)))
				w.Write(zero[:n])
				left -= n
			}
		} else {
			w.Write([]byte(m.body))
		}
	}
	zw.Close()
	return buf.Bytes()
}

var good = []member{
	{name: "pkg-1.0/", typ: tar.TypeDir},
	{name: "pkg-1.0/setup.py", body: "from setuptools import setup\nsetup()\n"},
	{name: "pkg-1.0/pkg/__init__.py", body: "x = 1\n"},
	{name: "pkg-1.0/pkg/alias.py", typ: tar.TypeSymlink, link: "__init__.py"},
	{name: "pkg-1.0/docs", typ: tar.TypeSymlink, link: "../pkg-1.0/pkg"},
	{name: "pkg-1.0/hard", typ: tar.TypeLink, link: "pkg-1.0/setup.py"},
}

func TestCheck(t *testing.T) {
	small := Limits{Bytes: 64 << 20, Files: 100, Ratio: 200}
	cases := []struct {
		name string
		ms   []member
		lim  Limits
		want error // nil: accepted
		msg  string
	}{
		{"good", good, small, nil, ""},
		{"traversal", []member{{name: "pkg/../../evil", body: "x"}}, small, ErrHostile, "path traversal"},
		{"traversal-plain", []member{{name: "../evil", body: "x"}}, small, ErrHostile, "path traversal"},
		{"absolute", []member{{name: "/etc/cron.d/evil", body: "x"}}, small, ErrHostile, "absolute path"},
		{"backslash", []member{{name: "..\\evil", body: "x"}}, small, ErrHostile, "backslash"},
		{"control", []member{{name: "a\x1b[2Jb", body: "x"}}, small, ErrHostile, "control character"},
		{"symlink-abs", []member{{name: "p/l", typ: tar.TypeSymlink, link: "/root/.ssh"}}, small, ErrHostile, "points outside"},
		{"symlink-up", []member{{name: "p/l", typ: tar.TypeSymlink, link: "../../etc/passwd"}}, small, ErrHostile, "points outside"},
		{"symlink-through-link", []member{{name: "s", typ: tar.TypeSymlink, link: "."}, {name: "l", typ: tar.TypeSymlink, link: "s/.."}}, small, ErrHostile, "through the symlink"},
		{"write-below-link", []member{{name: "p/d", typ: tar.TypeSymlink, link: "x"}, {name: "p/d/f", body: "x"}}, small, ErrHostile, "below the symlink"},
		{"write-below-later-link", []member{{name: "p/d/f", body: "x"}, {name: "p/d", typ: tar.TypeSymlink, link: "x"}}, small, ErrHostile, "below the symlink"},
		{"hardlink-out", []member{{name: "p/h", typ: tar.TypeLink, link: "/etc/shadow"}}, small, ErrHostile, "hard link"},
		{"hardlink-missing", []member{{name: "p/h", typ: tar.TypeLink, link: "p/later"}, {name: "p/later", body: "x"}}, small, ErrHostile, "earlier regular"},
		{"device", []member{{name: "p/null", typ: tar.TypeChar}}, small, ErrHostile, "device"},
		{"fifo", []member{{name: "p/fifo", typ: tar.TypeFifo}}, small, ErrHostile, "device or fifo"},
		{"setuid", []member{{name: "p/su", body: "x", mode: 0o4755}}, small, ErrHostile, "setuid"},
		{"duplicate", []member{{name: "p/a", body: "x"}, {name: "p/a", typ: tar.TypeSymlink, link: "b"}}, small, ErrHostile, "twice"},
		{"bomb-size", []member{{name: "p/zeros", size: 80 << 20}}, Limits{Bytes: 64 << 20, Files: 100, Ratio: 1e9}, ErrLimit, "bytes uncompressed"},
		{"bomb-ratio", []member{{name: "p/zeros", size: 40 << 20}}, small, ErrLimit, "expands more than"},
		{"bomb-count", func() []member {
			var ms []member
			for i := 0; i < 101; i++ {
				ms = append(ms, member{name: "p/" + strings.Repeat("a", i+1), body: ""})
			}
			return ms
		}(), small, ErrLimit, "more than 100 entries"},
	}
	for _, tc := range cases {
		for _, kind := range []string{"tar.gz", "whl"} {
			if kind == "whl" && (tc.ms[0].typ == tar.TypeLink || tc.ms[len(tc.ms)-1].typ == tar.TypeLink || tc.ms[0].typ == tar.TypeFifo || tc.name == "good") {
				continue // zip has no hard links or fifos; good has a hard link
			}
			t.Run(tc.name+"."+kind, func(t *testing.T) {
				var info *Info
				var err error
				if kind == "tar.gz" {
					b := makeTarGz(t, tc.ms)
					info, err = CheckTarGz(bytes.NewReader(b), int64(len(b)), tc.lim)
				} else {
					b := makeZip(t, tc.ms)
					info, err = CheckZip(bytes.NewReader(b), int64(len(b)), tc.lim)
				}
				if tc.want == nil {
					if err != nil {
						t.Fatalf("rejected a good archive: %v", err)
					}
					if info.Root != "pkg-1.0" {
						t.Errorf("root = %q, want pkg-1.0", info.Root)
					}
					return
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.msg) || strings.ContainsAny(err.Error(), "\n\x1b") {
					t.Errorf("err %q: want one line containing %q", err, tc.msg)
				}
			})
		}
	}
}

func TestCorrupt(t *testing.T) {
	b := makeTarGz(t, good)
	for _, bad := range [][]byte{nil, []byte("not an archive at all"), b[:len(b)/2]} {
		if _, err := CheckTarGz(bytes.NewReader(bad), int64(len(bad)), Limits{}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("tar.gz %q...: err = %v, want ErrCorrupt", bad[:min(len(bad), 8)], err)
		}
		if _, err := CheckZip(bytes.NewReader(bad), int64(len(bad)), Limits{}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("zip %q...: err = %v, want ErrCorrupt", bad[:min(len(bad), 8)], err)
		}
	}
}

// TestGitArchive: a tarball made by git archive (as GitHub's release
// tarballs are) starts with a PAX global header; it is accepted, and one
// whose global records would rename or resize every entry is not.
func TestGitArchive(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "proj"), 0o755)
	os.WriteFile(filepath.Join(src, "pyproject.toml"), []byte("[project]\nname = 'proj'\n"), 0o644)
	os.WriteFile(filepath.Join(src, "proj", "__init__.py"), []byte("X = 1\n"), 0o644)
	run := func(args ...string) {
		cmd := exec.Command(git, args...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+src,
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("init", "-q")
	run("add", ".")
	run("commit", "-q", "-m", "x")
	p := filepath.Join(t.TempDir(), "proj-1.0.tar.gz")
	run("archive", "--format=tar.gz", "--prefix=proj-1.0/", "-o", p, "HEAD")
	// The archive has the global header this is about.
	if b, _ := os.ReadFile(p); !bytes.Contains(gunzip(t, b), []byte("pax_global_header")) {
		t.Fatal("git archive wrote no pax_global_header")
	}
	info, err := CheckFile(p, Limits{})
	if err != nil {
		t.Fatalf("git archive's tarball refused: %v", err)
	}
	if info.Root != "proj-1.0" || info.Files != 4 { // the root, proj/ and two files
		t.Errorf("info = %+v", info)
	}

	small := Limits{Bytes: 64 << 20, Files: 100, Ratio: 200}
	for _, tc := range []struct {
		name string
		ms   []member
		msg  string
	}{
		{"global path", []member{{name: "pax_global_header", typ: tar.TypeXGlobalHeader, pax: map[string]string{"path": "../../etc/cron.d/x"}}, {name: "p/a", body: "x"}}, "global header sets \"path\""},
		{"global linkpath", []member{{typ: tar.TypeXGlobalHeader, pax: map[string]string{"comment": "c", "linkpath": "/etc"}}, {name: "p/a", body: "x"}}, "global header sets \"linkpath\""},
		{"global size", []member{{typ: tar.TypeXGlobalHeader, pax: map[string]string{"size": "99"}}, {name: "p/a", body: "x"}}, "global header sets \"size\""},
		{"traversal after a global header", []member{{typ: tar.TypeXGlobalHeader, pax: map[string]string{"comment": "c"}}, {name: "p/../../evil", body: "x"}}, "path traversal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := makeTarGz(t, tc.ms)
			_, err := CheckTarGz(bytes.NewReader(b), int64(len(b)), small)
			if !errors.Is(err, ErrHostile) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want %q", err, tc.msg)
			}
		})
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(zr)
	return out
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pkg-1.0.tar.gz")
	os.WriteFile(p, makeTarGz(t, good), 0o644)
	if info, err := CheckFile(p, Limits{}); err != nil || info.Root != "pkg-1.0" || info.Files != len(good) {
		t.Fatalf("CheckFile = %+v, %v", info, err)
	}
	if _, err := CheckFile(filepath.Join(dir, "x.rar"), Limits{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown kind: %v", err)
	}
	if err := os.Symlink(p, filepath.Join(dir, "l.tar.gz")); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckFile(filepath.Join(dir, "l.tar.gz"), Limits{}); err != nil {
		t.Errorf("a link to an archive (the user's own) is read: %v", err)
	}
}

// FuzzCheck: no panic, a bounded one-line error, and an accepted archive
// has only safe names.
func FuzzCheck(f *testing.F) {
	f.Add(makeTarGz(f, good), false)
	f.Add(makeZip(f, good[:4]), true)
	f.Add(makeTarGz(f, []member{{name: "s", typ: tar.TypeSymlink, link: "."}, {name: "l", typ: tar.TypeSymlink, link: "s/.."}}), false)
	lim := Limits{Bytes: 8 << 20, Files: 1000, Ratio: 100}
	f.Fuzz(func(t *testing.T, b []byte, isZip bool) {
		var err error
		if isZip {
			_, err = CheckZip(bytes.NewReader(b), int64(len(b)), lim)
		} else {
			_, err = CheckTarGz(bytes.NewReader(b), int64(len(b)), lim)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrHostile) && !errors.Is(err, ErrLimit) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			if strings.ContainsAny(err.Error(), "\n\r\x1b") {
				t.Fatalf("multi-line or raw error: %q", err)
			}
		}
	})
}

// TestReadFile: the contents of every regular file, in both kinds, with
// the same refusals as CheckFile; content read through ReadFile counts
// against the caps like the rest.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte
	}{{"pkg-1.0.tar.gz", makeTarGz(t, good)}, {"pkg-1.0-py3-none-any.whl", makeZip(t, good[:4])}} {
		p := filepath.Join(dir, c.name)
		os.WriteFile(p, c.data, 0o644)
		got := map[string]string{}
		if _, err := ReadFile(p, Limits{}, func(name string, size int64, r io.Reader) error {
			b, err := io.ReadAll(io.LimitReader(r, 3)) // the rest is read and counted by ReadFile
			got[name] = string(b)
			return err
		}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := map[string]string{"pkg-1.0/setup.py": "fro", "pkg-1.0/pkg/__init__.py": "x ="}
		if len(got) != len(want) || got["pkg-1.0/setup.py"] != "fro" || got["pkg-1.0/pkg/__init__.py"] != "x =" {
			t.Fatalf("%s: read %q, want %q (regular files only)", c.name, got, want)
		}
	}
	bad := filepath.Join(dir, "evil-1.0.tar.gz")
	os.WriteFile(bad, makeTarGz(t, []member{{name: "evil-1.0/a", body: "x"}, {name: "evil-1.0/../../x", body: "y"}}), 0o644)
	if _, err := ReadFile(bad, Limits{}, func(string, int64, io.Reader) error { return nil }); !errors.Is(err, ErrHostile) {
		t.Fatalf("traversal: %v", err)
	}
	bomb := filepath.Join(dir, "bomb-1.0.tar.gz")
	os.WriteFile(bomb, makeTarGz(t, []member{{name: "bomb-1.0/z", size: 64 << 20}}), 0o644)
	if _, err := ReadFile(bomb, Limits{}, func(_ string, _ int64, r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }); !errors.Is(err, ErrLimit) {
		t.Fatalf("bomb read through the callback: %v", err)
	}
}
