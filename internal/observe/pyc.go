package observe

import (
	"encoding/binary"
	"path"
	"strings"

	"github.com/moat-sandbox/moat/internal/observe/pycpath"
)

// A .pyc file starts with a 16-byte header (PEP 552): the interpreter's
// magic number (two bytes, then "\r\n"), a 32-bit little-endian flags
// word, and either the source's modification time and size (flags 0) or
// a 64-bit hash of the source (bit 0 set; bit 1, check_source, says
// whether Python compares it with the source before use). Only the
// header is read here: the code object behind it is the program's
// (untrusted) bytes and is never unmarshalled on the host.
const pycHeader = 16

// Bytecode judges a .pyc at p that the run wrote, from its header (at
// least the first 16 bytes of the file): "" when Python would load it
// only for a source it checks it against, or when it is no .pyc Python
// takes at all; else why Python would run it in place of a source.
// before and after are the diff's walks: a source that is in both,
// unchanged, was not written by this run, and an import does not write a
// .pyc for it either (moat's hook sets sys.dont_write_bytecode in every
// interpreter, docs/report.md), so a .pyc for it that matches its time
// and size (which a header can copy) runs code the source does not show.
// pip compiles what it installs in the same run: a .pyc whose source the
// run wrote gives nothing.
func Bytecode(p string, header []byte, before, after Snapshot) string {
	if !strings.HasSuffix(p, ".pyc") || len(header) < pycHeader || header[2] != '\r' || header[3] != '\n' {
		return ""
	}
	flags := binary.LittleEndian.Uint32(header[4:8])
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if path.Base(dir) != "__pycache__" {
		// A sourceless module: imported from a directory on sys.path
		// (where no name.py is beside it), it runs with no source to
		// show, and shadows a module of that name in a later one.
		// Only NAME.pyc is one (importlib's SOURCELESS_SUFFIXES), and
		// not where NAME.py is beside it (the source loader comes first).
		mod := strings.TrimSuffix(base, ".pyc")
		if strings.Contains(mod, ".") || mod == "" {
			return ""
		}
		if _, ok := after[dir+"/"+mod+".py"]; ok {
			return ""
		}
		return "a sourceless .pyc, imported as module " + mod + " from a directory on sys.path with no source to show (and shadowing any module of that name later on it)"
	}
	if flags&0b11 == 0b01 {
		return "an unchecked hash-based .pyc (flags 0b01): Python loads it without ever comparing it with the source"
	}
	// __pycache__/NAME.TAG[.opt-N].pyc is the cache of ../NAME.py
	mod, _, _ := strings.Cut(base, ".")
	src := path.Dir(dir) + "/" + mod + ".py"
	b, was := before[src]
	a, is := after[src]
	if flags&1 == 0 && was && is && a == b && a.Mode.IsRegular() {
		size := binary.LittleEndian.Uint32(header[12:16])
		if int64(size) == a.Size&0xffffffff {
			return "a .pyc in the cache of " + src + ", which the run did not write, with its size (and so a time Python checks alone): Python runs it in place of that source"
		}
	}
	return ""
}

// Bounds of what the diff keeps of the suspect bytecode for its
// verification (pycpath's).
const (
	MaxPycFile  = pycpath.MaxFile
	MaxPycPairs = pycpath.MaxPairs
	MaxPycBytes = pycpath.MaxBytes
)

// PycPair is a suspect .pyc and the source it claims to be the cache of,
// both whole, for the verification that compiles the source with the
// run's own interpreter and compares the code objects. Path is the
// bytecode event's Path (cleaned), SourcePath the source's path inside
// the sandbox, Opt the .opt-N level of the file name (0 for none).
// Everything in it is the program's bytes: never unmarshalled on the host.
type PycPair struct {
	Path       string `json:"path"`
	SourcePath string `json:"source_path"`
	Opt        int    `json:"opt,omitempty"`
	Pyc        []byte `json:"pyc"`
	Source     []byte `json:"source"`
}

// bytecodeSource is the source a __pycache__ .pyc at p is the cache of,
// and its optimization level from the .opt-N tag, or ok false for a .pyc
// with no regular source to compare it with.
func bytecodeSource(p string, after Snapshot) (src string, opt int, ok bool) {
	src, opt, ok = pycpath.Source(p)
	if a, is := after[src]; !ok || !is || !a.Mode.IsRegular() {
		return "", 0, false
	}
	return src, opt, true
}
