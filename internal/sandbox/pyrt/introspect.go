package pyrt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moat-sandbox/moat/internal/transfer/capture"
)

// introspectTimeout bounds one run of the interpreter (or its shim); a
// variable so tests can shorten it. A pyenv shim is a shell script that
// starts several processes: at a load of 15-20 on two cores it took more
// than 5 s, and the run failed for it.
var introspectTimeout = 30 * time.Second

// marker prefixes the JSON line so that anything else a shim prints to
// stdout is ignored.
const marker = "moat-pyrt:"

// introspectCode runs under -I -S on any Python from 2.7 on; it prints one
// marker line with JSON.
const introspectCode = `import sys, json
d = {
 "executable": sys.executable,
 "prefix": sys.prefix,
 "base_prefix": getattr(sys, "base_prefix", sys.prefix),
 "exec_prefix": sys.exec_prefix,
 "base_exec_prefix": getattr(sys, "base_exec_prefix", sys.exec_prefix),
 "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
 "platlibdir": getattr(sys, "platlibdir", ""),
 "dynload": [p for p in sys.path if p.rstrip("/").endswith("lib-dynload")],
}
try:
    import site
    d["site"] = list(site.getsitepackages())
except Exception:
    pass
sys.stdout.write("` + marker + `" + json.dumps(d) + "\n")
`

// introspection is what the interpreter says about itself.
type introspection struct {
	Executable     string   `json:"executable"`
	Prefix         string   `json:"prefix"`
	BasePrefix     string   `json:"base_prefix"`
	ExecPrefix     string   `json:"exec_prefix"`
	BaseExecPrefix string   `json:"base_exec_prefix"`
	Version        string   `json:"version"`
	PlatLibDir     string   `json:"platlibdir"`
	Dynload        []string `json:"dynload"`
	Site           []string `json:"site"`
}

// runIntrospection runs path with args and env and returns its stdout and
// stderr. It is a variable so tests can count or fake runs.
var runIntrospection = func(ctx context.Context, path string, args, env []string) (stdout, stderr []byte, err error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout = &capture.Head{W: &out, N: 1 << 20}
	cmd.Stderr = &capture.Head{W: &errb, N: 64 << 10}
	cmd.WaitDelay = time.Second // a shim's grandchild holding the pipe must not hang us
	err = cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}

// introspect asks the interpreter at path about itself.
func introspect(path, pathEnv string) (*introspection, error) {
	ctx, cancel := context.WithTimeout(context.Background(), introspectTimeout)
	defer cancel()
	env := os.Environ()
	if pathEnv != "" {
		env = setEnv(env, "PATH", pathEnv)
	}
	out, errOut, err := runIntrospection(ctx, path, []string{"-I", "-S", "-c", introspectCode}, env)
	if err != nil && ctx.Err() == nil && bytes.Contains(errOut, []byte("Unknown option: -I")) {
		// Python 2 has no -I; -E -s is its closest equivalent.
		out, errOut, err = runIntrospection(ctx, path, []string{"-E", "-s", "-S", "-c", introspectCode}, env)
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("python: %s: %w: timed out after %v", path, ErrIntrospection, introspectTimeout)
	}
	if err != nil {
		if msg := firstLines(errOut, 3); msg != "" {
			return nil, fmt.Errorf("python: %s: %w: %w: %s", path, ErrIntrospection, err, msg)
		}
		return nil, fmt.Errorf("python: %s: %w: %w", path, ErrIntrospection, err)
	}
	info, err := parseIntrospection(out)
	if err != nil {
		return nil, fmt.Errorf("python: %s: %w: %w", path, ErrIntrospection, err)
	}
	return info, nil
}

// parseIntrospection finds the marker line in out and decodes and checks
// its JSON.
func parseIntrospection(out []byte) (*introspection, error) {
	var line []byte
	for l := range bytes.Lines(out) {
		if rest, ok := bytes.CutPrefix(l, []byte(marker)); ok {
			line = rest
		}
	}
	if line == nil {
		return nil, fmt.Errorf("output not JSON: %q", truncate(out, 200))
	}
	var info introspection
	if err := json.Unmarshal(line, &info); err != nil {
		return nil, fmt.Errorf("output not JSON: %w", err)
	}
	if !filepath.IsAbs(info.Executable) {
		return nil, fmt.Errorf("sys.executable %q is not an absolute path", info.Executable)
	}
	for _, p := range []string{info.Prefix, info.BasePrefix, info.ExecPrefix, info.BaseExecPrefix} {
		if p != "" && !filepath.IsAbs(p) {
			return nil, fmt.Errorf("prefix %q is not an absolute path", p)
		}
	}
	if info.Prefix == "" {
		return nil, errors.New("empty sys.prefix")
	}
	if majorMinor(info.Version) == "" {
		return nil, fmt.Errorf("bad version %q", info.Version)
	}
	return &info, nil
}

// parsePyvenvCfg reads pyvenv.cfg the way CPython does: "key = value"
// lines, keys lowercased, first '=' splits, blanks and '#' comments skipped.
func parsePyvenvCfg(r io.Reader) (map[string]string, error) {
	cfg := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		cfg[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read pyvenv.cfg: %w", err)
	}
	return cfg, nil
}

// scriptContext returns "" for a binary, and for a "#!" script a string
// capturing what else its choice of interpreter may depend on: PATH, and
// for pyenv shims PYENV_VERSION and the version file pyenv would read.
// It costs one small read plus, for pyenv, a stat per directory level.
func scriptContext(path, pathEnv string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	var buf [1024]byte
	n, _ := io.ReadFull(f, buf[:])
	f.Close()
	head := buf[:n]
	if !bytes.HasPrefix(head, []byte("#!")) {
		return ""
	}
	ctx := "path=" + pathEnv
	if !bytes.Contains(head, []byte("pyenv")) {
		return ctx
	}
	root := os.Getenv("PYENV_ROOT")
	if m := bytes.Index(head, []byte(`PYENV_ROOT="`)); m >= 0 {
		rest := head[m+len(`PYENV_ROOT="`):]
		if end := bytes.IndexByte(rest, '"'); end > 0 {
			root = string(rest[:end])
		}
	}
	if root == "" {
		root = filepath.Dir(filepath.Dir(path))
	}
	ctx += "\x00pyenv_version=" + os.Getenv("PYENV_VERSION")
	dir := os.Getenv("PYENV_DIR")
	if dir == "" {
		dir, _ = os.Getwd()
	}
	ctx += "\x00local=" + nearestFile(dir, ".python-version")
	ctx += "\x00global=" + fileID(filepath.Join(root, "version"))
	return ctx
}

// nearestFile finds name in dir or its closest ancestor and returns its
// path and identity, or "".
func nearestFile(dir, name string) string {
	for dir != "" {
		p := filepath.Join(dir, name)
		if id := fileID(p); id != "" {
			return p + "@" + id
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}

// setEnv returns env with key set to value.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// firstLines returns up to n trimmed lines of b, joined by "; ".
func firstLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return string(truncate([]byte(strings.Join(lines, "; ")), 500))
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
