package observe

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
	"github.com/moat-sandbox/moat/internal/observe/xattr"
)

// pyc is a .pyc header of Python 3.11 (magic 3495) with flags and the
// last 8 bytes (a time and size, or a hash).
func pyc(flags uint32, size uint32) []byte {
	h := []byte{0xa7, 0x0d, '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(h[4:], flags)
	binary.LittleEndian.PutUint32(h[12:], size)
	return append(h, 0xe3) // the code object's first byte: never read
}

func TestBytecode(t *testing.T) {
	src := FileState{Size: 10, Ino: 1, Ctime: 5}
	before := Snapshot{"/work/src/tests/helper.py": src, "/work/src/mod.py": src}
	after := Snapshot{
		"/work/src/tests/helper.py": src, "/work/src/mod.py": src,
		"/work/.venv/site-packages/pkg/new.py": {Size: 10, Ino: 2, Ctime: 9}, // written by the run (pip)
		"/work/src/lib/json.pyc":               {Size: 100},
		"/work/src/mod.pyc":                    {Size: 100},
	}
	cases := []struct {
		path   string
		header []byte
		want   bool
	}{
		// a timestamp .pyc for a source the run did not write, its size copied
		{"/work/src/tests/__pycache__/helper.cpython-311.pyc", pyc(0, 10), true},
		{"/work/src/tests/__pycache__/helper.cpython-311-pytest-7.2.1.pyc", pyc(0, 10), true},
		{"/work/src/tests/__pycache__/helper.cpython-311.opt-1.pyc", pyc(0, 10), true},
		// another size: stale, Python compiles the source instead
		{"/work/src/tests/__pycache__/helper.cpython-311.pyc", pyc(0, 11), false},
		// pip's compile of what it installed in the same run
		{"/work/.venv/site-packages/pkg/__pycache__/new.cpython-311.pyc", pyc(0, 10), false},
		// checked hash-based: compared with the source
		{"/work/src/tests/__pycache__/helper.cpython-311.pyc", pyc(0b11, 10), false},
		// unchecked hash-based: never compared, wherever its source
		{"/work/.venv/site-packages/pkg/__pycache__/new.cpython-311.pyc", pyc(0b01, 0), true},
		// no source: Python never loads a cache without one
		{"/work/src/__pycache__/gone.cpython-311.pyc", pyc(0, 10), false},
		// sourceless modules
		{"/work/src/lib/json.pyc", pyc(0, 0), true},
		{"/work/src/mod.pyc", pyc(0, 0), false},               // mod.py beside it is imported first
		{"/work/src/lib/a.cpython-311.pyc", pyc(0, 0), false}, // no module's name
		// not a .pyc Python takes: no magic, or short
		{"/work/src/lib/json.pyc", []byte("import os\n\n\n\n\n\n\n\n\n\n"), false},
		{"/work/src/lib/json.pyc", pyc(0, 0)[:8], false},
	}
	for _, c := range cases {
		if got := Bytecode(c.path, c.header, before, after) != ""; got != c.want {
			t.Errorf("Bytecode(%s, flags %x) = %v, want %v", c.path, c.header[4:min(8, len(c.header))], got, c.want)
		}
	}
}

// The diff turns a planted .pyc into a bytecode event, kept past
// MaxFSEvents, and finds a token in an extended attribute of a file and of
// a directory (not of a planted file), bounded by xattr.MaxTotal.
func TestDiffBytecodeAndXattrs(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
	src := FileState{Size: 10, Ino: 1}
	before := Snapshot{"/work/h.py": src, "/tmp/d": {Mode: fs.ModeDir | 0o755, Ino: 7, Ctime: 1}}
	after := Snapshot{"/work/h.py": src, "/tmp/d": {Mode: fs.ModeDir | 0o755, Ino: 7, Ctime: 2}}
	for i := 0; i < MaxFSEvents; i++ {
		after[string(rune('a'+i%26))+"/junk"+string(rune(i))] = FileState{Size: 1, Ino: uint64(100 + i)}
	}
	after["/work/__pycache__/h.cpython-311.pyc"] = FileState{Size: 17, Ino: 2}
	after["/tmp/notes.txt"] = FileState{Size: 1, Ino: 3}
	after["/home/u/.aws/credentials"] = FileState{Size: 1, Ino: 4}
	attrs := map[string][]xattr.Attr{
		"/tmp/notes.txt":           {{Name: "user.comment", Value: []byte(secret)}},
		"/tmp/d":                   {{Name: "user.k", Value: []byte(secret)}},
		"/home/u/.aws/credentials": {{Name: "user.k", Value: []byte(secret)}},
	}
	d := &Differ{Tokens: []honeytoken.Token{{ID: "aws", Value: secret}}, Deadline: time.Now().Add(time.Minute),
		Planted: map[string]string{"/home/u/.aws/credentials": "aws"},
		Read: func(p string, n int64) ([]byte, error) {
			switch p {
			case "/work/__pycache__/h.cpython-311.pyc":
				return pyc(0, 10), nil
			case "/work/h.py":
				return []byte("import os\n"), nil
			}
			return []byte("x"), nil
		},
		Xattrs: func(p string) ([]xattr.Attr, error) { return attrs[p], nil }}
	evs, _ := d.Diff(before, after)
	got := map[string]bool{}
	for _, e := range evs {
		if e.Kind == moat.KindBytecode || e.Kind == moat.KindHoneytokenWritten {
			got[string(e.Kind)+" "+e.Path] = true
		}
	}
	for _, w := range []string{"bytecode /work/__pycache__/h.cpython-311.pyc", "honeytoken-written /tmp/notes.txt", "honeytoken-written /tmp/d"} {
		if !got[w] {
			t.Errorf("no event %s; got %v", w, got)
		}
	}
	if got["honeytoken-written /home/u/.aws/credentials"] {
		t.Error("a planted file's own attributes were searched")
	}
	// the suspect and its source, whole, for the verification
	if len(d.Pycs) != 1 || d.Pycs[0].SourcePath != "/work/h.py" || string(d.Pycs[0].Source) != "import os\n" || len(d.Pycs[0].Pyc) != 17 {
		t.Errorf("pairs kept: %+v", d.Pycs)
	}
}

// Suspects past the diff's reserve are one bytecode event more (never
// silent), and pairs stay within their bounds.
func TestDiffBytecodeReserve(t *testing.T) {
	before, after := Snapshot{}, Snapshot{}
	for i := range 150 {
		src := fmt.Sprintf("/work/m%03d.py", i)
		before[src] = FileState{Size: 10, Ino: uint64(1000 + i)}
		after[src] = before[src]
		after[fmt.Sprintf("/work/__pycache__/m%03d.cpython-311.pyc", i)] = FileState{Size: 17, Ino: uint64(i + 1)}
	}
	d := &Differ{Deadline: time.Now().Add(time.Minute), Read: func(p string, n int64) ([]byte, error) {
		if strings.HasSuffix(p, ".pyc") {
			return pyc(0, 10), nil
		}
		return []byte("VALUE = 1\n"), nil
	}}
	evs, _ := d.Diff(before, after)
	n, over := 0, 0
	for _, e := range evs {
		if e.Kind == moat.KindBytecode {
			n++
			if strings.Contains(e.Detail, "and 50 more suspect .pyc files") {
				over++
			}
		}
	}
	if n != maxSecretEvents+1 || over != 1 || len(d.Pycs) != MaxPycPairs {
		t.Errorf("%d bytecode events (%d past the reserve), %d pairs; want %d, 1, %d", n, over, len(d.Pycs), maxSecretEvents+1, MaxPycPairs)
	}
}
