package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"time"

	"github.com/moat-sandbox/moat/internal/termsafe"
)

// Startup is the runtime's encodings package with the hook's loader
// appended: the one package of the standard library every interpreter
// imports from source at startup, also under -S, -I and -E, which skip
// site (and so the .pth line) or PYTHONPATH. A backend that controls the
// file system view puts Source at Path (a read-only overlay of the
// package's directory) and Pyc beside it. The loader runs only when
// sys.flags.no_site is set or the interpreter is a venv's without the
// system's site packages, where no site directory's .pth line of the
// runtime's will run (install's early argument), so the hook is installed once per
// interpreter either way; any error leaves the interpreter's start as it
// was (the missing hello stays the kernel's evasion finding).
type Startup struct {
	// Path is the package's __init__.py, as the interpreter imports it.
	Path string `json:"path"`
	// Tag is sys.implementation.cache_tag.
	Tag string `json:"tag"`
	// Source is the file's text with the loader appended; Pyc its
	// compiled code, an unchecked hash-based .pyc (PEP 552), so that the
	// overlay's new file costs no compile at any start.
	Source []byte `json:"source"`
	Pyc    []byte `json:"pyc"`
	// HasPyc: the interpreter's own file at PycName was there (an
	// engine can bind a file over an existing one only).
	HasPyc bool `json:"has_pyc,omitempty"`
}

// PycName is the file name of s.Pyc beside Path.
func (s *Startup) PycName() string { return "__pycache__/__init__." + s.Tag + ".pyc" }

// StartupLoader returns the lines appended to encodings/__init__.py: under
// -S, import Module from the site directory site by its file (it is not
// on sys.path then), read its channel from the .pth line beside it (the
// channel is drawn per run, the compiled package per interpreter), and
// install the hook. Only modules the import system holds already are
// used: builtins.open does not exist yet at this point of the start.
func StartupLoader(site string) string {
	return startupLoader(site, startupSkip, "True")
}

// StartupLoaderEnv is StartupLoader for a hook on PYTHONPATH, as a
// sitecustomize module in site, a directory that also holds the hook as
// Module and a PthFile line that names the run's channel (never run as
// a .pth line: site is no site directory). Its loader installs the hook
// under -S, which imports no sitecustomize, and under -E and -I
// (sys.flags.ignore_environment), which skip PYTHONPATH; a venv keeps
// PYTHONPATH, so the sitecustomize installs it there. (Under -E outside
// such a venv the hook's own test of its case, _no_site_dir, is false.)
func StartupLoaderEnv(site string) string {
	return startupLoader(site, `
        if not (sys.flags.no_site or sys.flags.ignore_environment):
            return`, "module._no_site_dir()")
}

// startupLoader is the loader of the hook in site, skipped when skip
// returns; early is install's early argument, which must be what the
// hook's _no_site_dir says for it to install.
func startupLoader(site, skip, early string) string {
	return `

def _bootstrap(site=` + strconv.Quote(site) + `):
    import sys
    try:
        import _io` + skip + `
        from _frozen_importlib import module_from_spec
        from _frozen_importlib_external import spec_from_file_location
        with _io.open(site + "/` + PthFile + `", "rb") as f:
            channel = f.read(4096).decode().split('"')[1]
        spec = spec_from_file_location("` + Module + `", site + "/` + Module + `.py")
        module = module_from_spec(spec)
        spec.loader.exec_module(module)
        module.install(channel, ` + early + `)
    except Exception:
        pass


_bootstrap()
del _bootstrap
`
}

// startupSkip is StartupLoader's test of when a .pth line of the
// runtime's installs the hook instead.
const startupSkip = `
        if not sys.flags.no_site:
            # A venv without the system's site packages (site.venv's
            # pyvenv.cfg, beside the executable or one up) runs no .pth
            # line of the runtime's either; anything else does.
            d = (sys.executable or "").rpartition("/")[0]
            for conf in (d + "/pyvenv.cfg", d.rpartition("/")[0] + "/pyvenv.cfg"):
                try:
                    with _io.open(conf, "rb") as f:
                        cfg = f.read(1 << 16).decode("utf-8", "replace")
                    break
                except OSError:
                    pass
            else:
                return
            system = "true"
            for line in cfg.splitlines():
                k, sep, v = line.partition("=")
                if sep and k.strip().lower() == "include-system-site-packages":
                    system = v.strip().lower()
            if system == "true":
                return`

// StartupCode prints the tag, the package's path, whether its cache file
// is there (1 or 0), the length of the new source, then the source and
// its .pyc; the loader (StartupLoader) is on stdin. It runs under -I -S.
const StartupCode = `import os, sys, encodings, importlib.util, importlib._bootstrap_external as be
p = encodings.__file__
with open(p, "rb") as f:
    src = f.read()
if not src.endswith(b"\n"):
    src += b"\n"
src += sys.stdin.buffer.read()
code = compile(src, p, "exec", dont_inherit=True)
pyc = be._code_to_hash_pyc(code, importlib.util.source_hash(src), False)
has = int(os.path.isfile(importlib.util.cache_from_source(p)))
sys.stdout.buffer.write(b"%s\n%s\n%d\n%d\n" % (sys.implementation.cache_tag.encode(), p.encode(), has, len(src)) + src + pyc)
`

// PlainSite: a site directory the loader can name in a Python string
// literal as strconv.Quote writes it: clean, absolute, printable ASCII
// without quotes or backslashes.
func PlainSite(site string) bool {
	if site == "" || !path.IsAbs(site) || path.Clean(site) != site {
		return false
	}
	for i := 0; i < len(site); i++ {
		if c := site[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// CompileStartup returns the encodings package of the interpreter at
// python with the loader of the hook in site appended, compiled by that
// interpreter (as Compile, and cached the same way, keyed on site too).
func CompileStartup(python, site, cacheDir string) (*Startup, error) {
	if !PlainSite(site) {
		return nil, fmt.Errorf("startup hook: site directory %q", site)
	}
	key, err := cacheKey(python)
	if err != nil {
		return nil, err
	}
	loader := StartupLoader(site)
	var cache string
	if cacheDir != "" {
		h := sha256.Sum256([]byte(key + "\x00" + loader + "\x00" + StartupCode))
		cache = filepath.Join(cacheDir, "startup-"+hex.EncodeToString(h[:12]))
		if b, err := os.ReadFile(cache); err == nil {
			if s, err := ParseStartup(b); err == nil {
				return s, nil
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-I", "-S", "-c", StartupCode)
	cmd.Env = []string{}
	cmd.Stdin = bytes.NewReader([]byte(loader))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("compile the startup hook with %s: %w (%s)", python, err, Clean(termsafe.Line(errOut.String(), 0), 200))
	}
	if out.Len() > 2*maxPyc {
		return nil, fmt.Errorf("compile the startup hook with %s: %d bytes of output", python, out.Len())
	}
	s, err := ParseStartup(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("compile the startup hook with %s: %w", python, err)
	}
	if cache != "" {
		writeCache(cacheDir, cache, out.Bytes())
	}
	return s, nil
}

// ParseStartup splits StartupCode's output and checks its parts.
func ParseStartup(b []byte) (*Startup, error) {
	tag, rest, ok := bytes.Cut(b, []byte("\n"))
	if !ok || !validTag(tag) {
		return nil, errors.New("no cache tag")
	}
	p, rest, ok := bytes.Cut(rest, []byte("\n"))
	name := string(p)
	if !ok || !path.IsAbs(name) || path.Clean(name) != name || path.Base(name) != "__init__.py" || path.Base(path.Dir(name)) != "encodings" {
		return nil, errors.New("no encodings package")
	}
	has, rest, ok := bytes.Cut(rest, []byte("\n"))
	if !ok || len(has) != 1 || has[0] != '0' && has[0] != '1' {
		return nil, errors.New("no cache file flag")
	}
	n, rest, ok := bytes.Cut(rest, []byte("\n"))
	size, err := strconv.Atoi(string(n))
	if !ok || err != nil || size <= 0 || size > len(rest) || size > maxPyc {
		return nil, errors.New("no source")
	}
	src, pyc := rest[:size], rest[size:]
	if len(pyc) < 16 || pyc[2] != '\r' || pyc[3] != '\n' || pyc[4] != 1 || pyc[5]|pyc[6]|pyc[7] != 0 {
		return nil, errors.New("not an unchecked hash-based .pyc")
	}
	return &Startup{Path: name, Tag: string(tag), Source: bytes.Clone(src), Pyc: bytes.Clone(pyc), HasPyc: has[0] == '1'}, nil
}

// writeCache writes b to the file cache in cacheDir, atomically, best
// effort: a cache that cannot be written costs the next run a compile.
func writeCache(cacheDir, cache string, b []byte) {
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return
	}
	f, err := os.CreateTemp(cacheDir, ".hook-*")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr == nil && cerr == nil {
		_ = os.Rename(f.Name(), cache)
	} else {
		_ = os.Remove(f.Name())
	}
}
