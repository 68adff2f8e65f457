package container

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// TestBootstrapPackDeep: bootstrap.py's copy-out (the containers' Python
// init) stops treecopy.MaxDepth levels down as Pack does, and names what
// it left out; the host's Unpack takes it whole.
func TestBootstrapPackDeep(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 to run the bootstrap's pack with")
	}
	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, strings.Repeat("d/", treecopy.MaxDepth+10)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "top.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	const run = `import ast, os, sys
src = sys.stdin.read()
mod = ast.parse(src)
code = compile(ast.Module([n for n in mod.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in ('Frames', 'pack')], []), 'b', 'exec')
out = sys.stdout.buffer
g = {'os': os, 'WORK': sys.argv[1], 'send': lambda t, b=b'': out.write(b)}
exec(code, g)
g['pack']({'out_bytes': 1 << 20, 'out_files': 10000})
`
	cmd := exec.Command(py, "-I", "-S", "-c", run, work)
	cmd.Stdin = strings.NewReader(bootstrap)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stream, err := cmd.Output()
	if err != nil {
		t.Fatalf("run the bootstrap's pack: %v\n%s", err, stderr.String())
	}
	rep, err := treecopy.Unpack(bytes.NewReader(stream), t.TempDir(), treecopy.Limits{Bytes: 1 << 20, Files: 10000}, treecopy.Options{})
	if err != nil {
		t.Fatalf("unpack: %v", err)
	}
	deep := 0
	for _, s := range rep.Skipped {
		if strings.Contains(s, "deeper than 256 levels") {
			deep++
		}
	}
	if deep != 1 || rep.Dirs != treecopy.MaxDepth || rep.Files != 1 {
		t.Errorf("dirs %d, files %d, skipped %q: want %d levels, top.txt, one entry named deeper", rep.Dirs, rep.Files, rep.Skipped, treecopy.MaxDepth)
	}
}
