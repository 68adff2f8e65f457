package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Bytecode is the hook compiled by one interpreter: Python would otherwise
// compile hook.py at every start of every process in the sandbox (about
// 2 ms each), because the directory it is read from is new and read-only.
type Bytecode struct {
	// Tag is sys.implementation.cache_tag, e.g. "cpython-311": the file
	// goes to Dir/__pycache__/sitecustomize.<Tag>.pyc.
	Tag string `json:"tag"`
	// Data is the .pyc: an unchecked hash-based one (PEP 552), so Python
	// uses it without comparing it to the source's time or size.
	Data []byte `json:"data"`
}

// Name is the file name of b under Dir.
func (b *Bytecode) Name() string { return b.NameFor("sitecustomize") }

// NameFor is the file name of b as module's bytecode, beside module.py.
func (b *Bytecode) NameFor(module string) string {
	return "__pycache__/" + module + "." + b.Tag + ".pyc"
}

// CompileCode reads the hook on stdin and writes the tag, a newline and
// the .pyc (which ParseCompiled checks); the file name for the code object
// is its one argument. It runs under -I -S; hash-based .pyc files exist from 3.7 on.
const CompileCode = `import sys, importlib.util, importlib._bootstrap_external as be
src = sys.stdin.buffer.read()
code = compile(src, sys.argv[1], "exec", dont_inherit=True)
pyc = be._code_to_hash_pyc(code, importlib.util.source_hash(src), False)
sys.stdout.buffer.write(sys.implementation.cache_tag.encode() + b"\n" + pyc)
`

// validTag reports whether tag is a plausible cache tag ("cpython-311"):
// it becomes part of a file name.
func validTag(tag []byte) bool {
	if len(tag) == 0 || len(tag) > 40 || tag[0] < 'a' || tag[0] > 'z' {
		return false
	}
	for _, c := range tag {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// maxPyc bounds what a compile run may return.
const maxPyc = 1 << 20

// Compile returns the hook compiled by the interpreter at python (a real
// ELF file, the one the sandbox runs). The interpreter is the host's own
// trusted runtime, the same one moat already asks about itself; it runs
// on moat's source only. Results are cached in cacheDir (if not empty)
// under the hook's hash and the interpreter's path, size and mtime, so
// each interpreter compiles the hook once. (A stale entry is harmless:
// Python ignores a .pyc whose magic number is not its own.)
func Compile(python, cacheDir string) (*Bytecode, error) {
	key, err := cacheKey(python)
	if err != nil {
		return nil, err
	}
	var cache string
	if cacheDir != "" {
		cache = filepath.Join(cacheDir, "hook-"+key+".pyc")
		if b, err := os.ReadFile(cache); err == nil {
			if bc, err := ParseCompiled(b); err == nil {
				return bc, nil
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-I", "-S", "-c", CompileCode, Module+".py")
	cmd.Env = []string{}
	cmd.Stdin = bytes.NewReader([]byte(Hook()))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("compile the audit hook with %s: %w (%s)", python, err, Clean(termsafe.Line(errOut.String(), 0), 200))
	}
	if out.Len() > maxPyc {
		return nil, fmt.Errorf("compile the audit hook with %s: %d bytes of output", python, out.Len())
	}
	bc, err := ParseCompiled(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("compile the audit hook with %s: %w", python, err)
	}
	if cache != "" {
		// Best effort, and atomic: a cache that cannot be written costs
		// the next run a compile, nothing else.
		if err := os.MkdirAll(cacheDir, 0o700); err == nil {
			if f, err := os.CreateTemp(cacheDir, ".hook-*"); err == nil {
				_, werr := f.Write(out.Bytes())
				if cerr := f.Close(); werr == nil && cerr == nil {
					_ = os.Rename(f.Name(), cache)
				} else {
					_ = os.Remove(f.Name())
				}
			}
		}
	}
	return bc, nil
}

func cacheKey(python string) (string, error) {
	fi, err := os.Stat(python)
	if err != nil {
		return "", fmt.Errorf("audit hook: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(Hook()))
	fmt.Fprintf(h, "\x00%s\x00%d\x00%d", python, fi.Size(), fi.ModTime().UnixNano())
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// ParseCompiled splits CompileCode's output, "TAG\nPYC", and checks
// both parts.
func ParseCompiled(b []byte) (*Bytecode, error) {
	tag, pyc, ok := bytes.Cut(b, []byte("\n"))
	if !ok || !validTag(tag) {
		return nil, errors.New("no cache tag")
	}
	// A .pyc starts with the 4-byte magic ending in \r\n, then the flags:
	// 3 is hash-based and checked, 1 hash-based and unchecked.
	if len(pyc) < 16 || pyc[2] != '\r' || pyc[3] != '\n' || pyc[4] != 1 || pyc[5]|pyc[6]|pyc[7] != 0 {
		return nil, errors.New("not an unchecked hash-based .pyc")
	}
	return &Bytecode{Tag: string(tag), Data: append([]byte(nil), pyc...)}, nil
}
