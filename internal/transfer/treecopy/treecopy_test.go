package treecopy

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

type entry struct {
	name, body, link string
	typ              byte
	recs             map[string]string // for typRecord and tar.TypeXGlobalHeader
}

// end is the record Pack writes last.
var end = entry{typ: typRecord, recs: map[string]string{recEnd: "1", recMore: "0", recFailed: "0"}}

// typRecord marks an entry of mkRaw as one of moat's records.
const typRecord = 0xff

// mkTar makes a stream of es followed by Pack's end record.
func mkTar(t testing.TB, es []entry) []byte { return mkRaw(t, append(es, end)) }

// mkRaw makes a stream of es only.
func mkRaw(t testing.TB, es []entry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		if e.typ == typRecord || e.typ == tar.TypeXGlobalHeader {
			h := &tar.Header{Typeflag: e.typ, PAXRecords: e.recs}
			if e.typ == typRecord {
				h = &tar.Header{Name: "./", Typeflag: tar.TypeDir, PAXRecords: e.recs}
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			continue
		}
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
	// A file over what remains of the byte cap is left out, the next
	// one that fits is still written.
	es := []entry{
		{name: "a", body: strings.Repeat("x", 600), typ: tar.TypeReg},
		{name: "b", body: strings.Repeat("x", 600), typ: tar.TypeReg},
		{name: "c", body: strings.Repeat("x", 300), typ: tar.TypeReg},
	}
	dst := t.TempDir()
	rep, err := Unpack(bytes.NewReader(mkTar(t, es)), dst, Limits{Bytes: 1000, Files: 10}, Options{})
	if err != nil || rep.Files != 2 || len(rep.Skipped) != 1 || !strings.HasPrefix(rep.Skipped[0], "b: 600 bytes, over the 1000 bytes total cap") {
		t.Errorf("byte cap: %+v, %v", rep, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "c")); err != nil {
		t.Errorf("c after the big one: %v", err)
	}
	// A stream that makes Unpack read past more than the cap is cut.
	many := []entry{}
	for i := range 5 {
		many = append(many, entry{name: strings.Repeat("f", i+1), body: strings.Repeat("x", 1001), typ: tar.TypeReg})
	}
	if _, err = Unpack(bytes.NewReader(mkTar(t, many)), t.TempDir(), Limits{Bytes: 1000, Files: 10}, Options{}); !errors.Is(err, ErrLimit) {
		t.Errorf("discard cap: err = %v", err)
	}
	// Pack never sends more entries than the cap: a stream that does is cut.
	many = make([]entry, 20)
	for i := range many {
		many[i] = entry{name: strings.Repeat("f", i+1), typ: tar.TypeReg}
	}
	_, err = Unpack(bytes.NewReader(mkTar(t, many)), t.TempDir(), Limits{Bytes: 1000, Files: 10}, Options{})
	if !errors.Is(err, ErrLimit) {
		t.Errorf("count cap: err = %v", err)
	}
	// As many records as the sender likes are not accepted.
	recs := make([]entry, maxRecords+1)
	for i := range recs {
		recs[i] = entry{typ: typRecord, recs: map[string]string{recSkip: "x", recWhy: "y"}}
	}
	if _, err = Unpack(bytes.NewReader(mkTar(t, recs)), t.TempDir(), big, Options{}); !errors.Is(err, ErrLimit) {
		t.Errorf("record cap: err = %v", err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "big"), make([]byte, 5000), 0o644)
	if err := Pack(&bytes.Buffer{}, src, Limits{Bytes: 1000, Files: 10}); !errors.Is(err, ErrLimit) {
		t.Errorf("pack cap: err = %v", err)
	}
}

// TestPackLeavesNothingOutSilently packs a real tree and unpacks it: every
// entry not copied is listed with its reason, and the rest is copied.
func TestPackLeavesNothingOutSilently(t *testing.T) {
	sparse := func(t *testing.T, p string, n int64) {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(n); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	write := func(root string, names ...string) {
		for _, n := range names {
			os.MkdirAll(filepath.Dir(filepath.Join(root, n)), 0o755)
			if err := os.WriteFile(filepath.Join(root, n), []byte("result "+n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		lim     Limits
		make    func(t *testing.T, root string)
		files   []string // copied
		skipped []string // prefixes of Report.Skipped, in order
		packErr error
	}{
		{
			name: "sparse file over the cap, then small files",
			lim:  Limits{Bytes: 256 << 20, Files: 10000},
			make: func(t *testing.T, root string) {
				sparse(t, filepath.Join(root, "a-huge"), 257<<20)
				write(root, "b-result.txt", "c/d-result.txt")
			},
			files:   []string{"b-result.txt", "c/d-result.txt"},
			skipped: []string{"a-huge: 257MiB, over the 256MiB total cap"},
			packErr: ErrLimit,
		},
		{
			name: "a big file uses the budget, a later small one still fits",
			lim:  Limits{Bytes: 1 << 20, Files: 100},
			make: func(t *testing.T, root string) {
				sparse(t, filepath.Join(root, "a"), 1<<20-100)
				sparse(t, filepath.Join(root, "b"), 200)
				write(root, "c")
			},
			files:   []string{"a", "c"},
			skipped: []string{"b: 200 bytes, over the 1MiB total cap"},
			packErr: ErrLimit,
		},
		{
			name:  "count cap",
			lim:   Limits{Bytes: 1 << 20, Files: 3},
			make:  func(t *testing.T, root string) { write(root, "a", "b", "c", "d/e", "f") },
			files: []string{"a", "b", "c"},
			skipped: []string{
				"d/: over the 3-file count cap", "d/e: over the 3-file count cap", "f: over the 3-file count cap",
			},
			packErr: ErrLimit,
		},
		{
			name: "control characters in names",
			lim:  big,
			make: func(t *testing.T, root string) {
				write(root, "a\nb", "esc\x1b[31m", "osc\x1b]0;title\x07", "c1\u009b2J", "bad\xffutf8", "ok", "dir\r/inner")
			},
			files: []string{"ok"},
			skipped: []string{
				"a?b: name has control characters", "bad\ufffdutf8: name is not valid UTF-8", "c1?2J: name has control characters",
				"dir?/: name has control characters", "dir?/inner: name has control characters",
				"esc?[31m: name has control characters", "osc?]0;title?: name has control characters",
			},
		},
		{
			name:    "special file",
			lim:     big,
			make:    func(t *testing.T, root string) { syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); write(root, "z") },
			files:   []string{"z"},
			skipped: []string{"fifo: special file not copied"},
		},
		{
			name: "more left out than listed",
			lim:  Limits{Bytes: 1 << 20, Files: 1},
			make: func(t *testing.T, root string) {
				for i := range maxListed + 6 {
					write(root, fmt.Sprintf("f%03d", i))
				}
			},
			files:   []string{"f000"},
			packErr: ErrLimit,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := t.TempDir(), t.TempDir()
			tc.make(t, src)
			var b bytes.Buffer
			if err := Pack(&b, src, tc.lim); !errors.Is(err, tc.packErr) || (tc.packErr == nil) != (err == nil) {
				t.Errorf("pack: err = %v, want %v", err, tc.packErr)
			}
			rep, err := Unpack(&b, dst, tc.lim, Options{})
			if err != nil {
				t.Fatalf("unpack: %v", err)
			}
			for _, f := range tc.files {
				got, err := os.ReadFile(filepath.Join(dst, f))
				if err != nil || (bytes.HasPrefix(got, []byte("result ")) && string(got) != "result "+f) {
					t.Errorf("%s: %.40q, %v", f, got, err)
				}
			}
			if rep.Files != len(tc.files) {
				t.Errorf("%d files copied, want %d: %q", rep.Files, len(tc.files), rep.Skipped)
			}
			if tc.skipped != nil && len(rep.Skipped) != len(tc.skipped) {
				t.Fatalf("skipped = %q, want %q", rep.Skipped, tc.skipped)
			}
			for i, want := range tc.skipped {
				if !strings.HasPrefix(rep.Skipped[i], want) {
					t.Errorf("skipped[%d] = %q, want %q", i, rep.Skipped[i], want)
				}
			}
			for _, s := range rep.Skipped {
				if badName(s) != "" {
					t.Errorf("skipped entry not escaped: %q", s)
				}
			}
			if tc.name == "more left out than listed" {
				if len(rep.Skipped) != maxListed+1 || rep.Skipped[maxListed] != "and 5 more entries left out" {
					t.Errorf("skipped = %d entries, last %q", len(rep.Skipped), rep.Skipped[len(rep.Skipped)-1])
				}
			}
			// Nothing with a bad name reached dst.
			filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
				if badName(p) != "" {
					t.Errorf("written: %q", p)
				}
				return nil
			})
		})
	}
}

// TestSenderErrors: what the sender could not read reaches Unpack's error,
// and a stream cut short is never taken for a whole one.
func TestSenderErrors(t *testing.T) {
	dst := t.TempDir()
	rep, err := Unpack(bytes.NewReader(mkTar(t, []entry{
		{name: "half", body: "abc\x00\x00\x00", typ: tar.TypeReg},
		{typ: typRecord, recs: map[string]string{recSkip: "half", recWhy: "could not be read: input/output error", recError: "1", recPartial: "1"}},
		{typ: typRecord, recs: map[string]string{recSkip: "gone", recWhy: "vanished during the copy", recError: "1"}},
		{name: "later", body: "x", typ: tar.TypeReg},
	})), dst, big, Options{})
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "could not read 2 entries") {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "half")); !os.IsNotExist(err) {
		t.Errorf("the padded file stays: %v", err)
	}
	if rep.Files != 1 || len(rep.Skipped) != 2 || !strings.HasPrefix(rep.Skipped[0], "half: could not be read") {
		t.Errorf("report = %+v", rep)
	}

	// No end record: the sender stopped early.
	_, err = Unpack(bytes.NewReader(mkRaw(t, []entry{{name: "a", body: "x", typ: tar.TypeReg}})), t.TempDir(), big, Options{})
	if !errors.Is(err, ErrIncomplete) {
		t.Errorf("cut stream: err = %v", err)
	}
	// Entries after the end record.
	_, err = Unpack(bytes.NewReader(mkRaw(t, []entry{end, {name: "a", body: "x", typ: tar.TypeReg}})), t.TempDir(), big, Options{})
	if !errors.Is(err, ErrIncomplete) {
		t.Errorf("after the end: err = %v", err)
	}
	// A global header that is not moat's (git archive writes one) is no file.
	rep, err = Unpack(bytes.NewReader(mkTar(t, []entry{{typ: tar.TypeXGlobalHeader, recs: map[string]string{"comment": "abc"}}})), t.TempDir(), big, Options{})
	if err != nil || len(rep.Skipped) != 0 {
		t.Errorf("foreign global header: %+v, %v", rep, err)
	}
	// Control characters are kept when asked (a copy-in of the user's tree).
	dst = t.TempDir()
	if _, err := Unpack(bytes.NewReader(mkTar(t, []entry{{name: "a\nb", body: "x", typ: tar.TypeReg}})), dst, big, Options{AnyNames: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "a\nb")); err != nil {
		t.Errorf("AnyNames: %v", err)
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

// TestWhole: a copy that must be whole (a workspace copied in) refuses
// an entry a cap left out, whether the sender's Pack or Unpack left it
// out, and more than maxListed of them; a copy that need not be (a
// copy-out) lists them and goes on. Native runs used to start with part
// of an oversized workspace and exit 0.
func TestWhole(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a"), make([]byte, 600), 0o644)
	os.WriteFile(filepath.Join(src, "b"), make([]byte, 600), 0o644)
	var b bytes.Buffer
	if err := Pack(&b, src, Limits{Bytes: 1000, Files: 10}); !errors.Is(err, ErrLimit) {
		t.Fatalf("pack: %v", err)
	}
	for _, whole := range []bool{false, true} {
		rep, err := Unpack(bytes.NewReader(b.Bytes()), t.TempDir(), Limits{Bytes: 1000, Files: 10}, Options{Whole: whole})
		if whole != errors.Is(err, ErrLimit) || rep.Files != 1 || len(rep.Skipped) != 1 {
			t.Errorf("sender's cap, whole %v: %+v, %v", whole, rep, err)
		}
	}
	// Unpack's own cap (a stream packed under a larger one).
	es := []entry{{name: "a", body: strings.Repeat("x", 600), typ: tar.TypeReg}, {name: "b", body: strings.Repeat("x", 600), typ: tar.TypeReg}}
	if _, err := Unpack(bytes.NewReader(mkTar(t, es)), t.TempDir(), Limits{Bytes: 1000, Files: 10}, Options{Whole: true}); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "first b") {
		t.Errorf("receiver's cap: %v", err)
	}
	// Past maxListed the sender only counts: the end record's count is enough.
	src = t.TempDir()
	for i := range maxListed + 5 {
		os.WriteFile(filepath.Join(src, fmt.Sprintf("f%03d", i)), make([]byte, 10), 0o644)
	}
	b.Reset()
	if err := Pack(&b, src, Limits{Bytes: 1 << 20, Files: 2}); !errors.Is(err, ErrLimit) {
		t.Fatalf("pack of many: %v", err)
	}
	if _, err := Unpack(bytes.NewReader(b.Bytes()), t.TempDir(), big, Options{Whole: true}); !errors.Is(err, ErrLimit) {
		t.Errorf("many left out: %v", err)
	}
	// A whole tree copies whole.
	if _, err := Unpack(bytes.NewReader(mkTar(t, es[:1])), t.TempDir(), big, Options{Whole: true}); err != nil {
		t.Errorf("whole: %v", err)
	}
}
