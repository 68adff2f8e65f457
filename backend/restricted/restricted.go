// Package restricted is the seed's "RestrictedPython" row: software-level
// restriction, graded low. The program is compiled with RestrictedPython's
// compile_restricted and run with safe builtins, its guards on attribute,
// item, iteration and write access, and an import whitelist (the policy is
// in runner.py and docs/restricted.md). What RestrictedPython refuses,
// at compile time (an underscore name, a frame attribute, exec) or at run
// time (an import or builtin outside the policy), ends the run with status
// "refused" (exit 126) and the construct and line in Result.Error.
//
// RestrictedPython alone is not a security boundary: it runs in the same
// interpreter as the program, and every hole in its guards or in a module
// it lets through is an escape to the user's full access. moat therefore
// never runs it alone: the runner and the program run inside the native
// sandbox (stacked), so Result.Layers lists "restricted" and then native's
// layers, and Result.Isolation is "restricted+native". `moat audit` shows
// what each of the two stops.
package restricted

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
)

//go:embed runner.py
var runner string

// marker starts the runner's one line of its own on stderr.
const marker = "moat-restricted:"

// Backend runs programs under RestrictedPython inside the native sandbox.
// The zero value is ready to use.
type Backend struct{}

var (
	_ moat.Backend   = (*Backend)(nil)
	_ moat.Checker   = (*Backend)(nil)
	_ moat.Supporter = (*Backend)(nil)
	_ moat.Describer = (*Backend)(nil)
)

func init() {
	moat.Register("restricted", func() moat.Backend { return &Backend{} })
}

// inner is the backend RestrictedPython is stacked on.
func inner() moat.Backend { return &native.Backend{} }

// fallbackPython is tried when python3 on PATH has no RestrictedPython:
// the distribution's, where apt installs python3-restrictedpython.
var fallbackPython = "/usr/bin/python3"

// Check needs the native sandbox and an interpreter that can import a
// RestrictedPython that works with it.
func (b *Backend) Check(ctx context.Context) error {
	if err := moat.Check(ctx, inner()); err != nil {
		return fmt.Errorf("restricted: runs inside the native sandbox, which is unavailable: %w", err)
	}
	_, _, err := interpreter(ctx, "")
	return err
}

// Describe names the interpreter and RestrictedPython's version.
func (b *Backend) Describe(ctx context.Context) []string {
	py, ver, err := interpreter(ctx, "")
	if err != nil {
		return nil
	}
	return []string{"RestrictedPython " + ver + " with " + py, "stacked on native (layers restricted+native)"}
}

// Supports refuses what the runner cannot do: an image, and anything but a
// script or -c (RestrictedPython compiles one source; -m would import a
// module unrestricted).
func (b *Backend) Supports(spec *moat.Spec) error {
	if spec.Image != "" {
		return fmt.Errorf("restricted: --image %q: runs the host's Python inside the native sandbox: %w", spec.Image, moat.ErrUnsupported)
	}
	if _, _, _, err := split(spec.Args); err != nil {
		return err
	}
	return nil
}

// split turns the interpreter's arguments into the runner's mode, target
// and the program's own arguments.
func split(args []string) (mode, target string, rest []string, err error) {
	switch {
	case len(args) >= 2 && args[0] == "-c":
		return "c", args[1], args[2:], nil
	case len(args) >= 1 && !strings.HasPrefix(args[0], "-"):
		return "f", args[0], args[1:], nil
	case len(args) >= 1:
		return "", "", nil, fmt.Errorf("restricted: %s: only a script or -c CODE can be compiled with RestrictedPython: %w", args[0], moat.ErrUnsupported)
	}
	return "", "", nil, fmt.Errorf("restricted: no program to run: %w", moat.ErrInvalidSpec)
}

// Run compiles and runs the program under RestrictedPython in a native
// sandbox.
func (b *Backend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("restricted: %w", err)
	}
	mode, target, rest, err := split(spec.Args)
	if err != nil {
		return nil, err
	}
	if spec.Image != "" {
		return nil, b.Supports(spec)
	}
	py, ver, err := interpreter(ctx, spec.Python)
	if err != nil {
		return nil, err
	}
	in := *spec
	in.Python = py
	in.Args = append([]string{"-c", runner, mode, target}, rest...)
	if spec.Stderr != nil {
		in.Stderr = &dropMarker{w: spec.Stderr}
	}
	res, err := inner().Run(ctx, &in)
	if res == nil {
		return nil, fmt.Errorf("restricted: %w", err)
	}
	res.Isolation = "restricted+native"
	res.Layers = append([]moat.Layer{{Name: "restricted", Detail: "RestrictedPython " + ver + ": compile_restricted, safe builtins, guarded attribute/item/iteration/write access, import whitelist"}}, res.Layers...)
	if err != nil {
		return res, fmt.Errorf("restricted: %w", err)
	}
	if err := said(res); err != nil {
		return res, err
	}
	return res, nil
}

// said reads the runner's own line, which it writes only before the
// program runs or when the policy refused it (the program cannot write to
// stderr: it has no sys and print goes to stdout), and only counts it when
// it is the first thing on stderr and the exit status is the runner's.
func said(res *moat.Result) error {
	if res.Status != moat.StatusExited || (res.ExitCode != 126 && res.ExitCode != 125 && res.ExitCode != 2) {
		return nil
	}
	line, after, _ := strings.Cut(res.Stderr, "\n")
	js, ok := strings.CutPrefix(line, marker)
	if !ok {
		return nil
	}
	var m struct {
		Kind   string   `json:"kind"`
		Errors []string `json:"errors"`
		Error  string   `json:"error"`
	}
	if json.Unmarshal([]byte(js), &m) != nil {
		return nil
	}
	res.Stderr = after
	switch m.Kind {
	case "refused":
		res.Status = moat.StatusRefused
		res.Error = "restricted: RestrictedPython refused the program: " + strings.Join(m.Errors, "; ")
	case "missing":
		res.Status = moat.StatusError
		res.Error = "restricted: RestrictedPython cannot be imported inside the sandbox: " + m.Error
		return fmt.Errorf("%s: %w", res.Error, moat.ErrUnavailable)
	case "error":
		res.Status = moat.StatusError
		res.ExitCode = 127
		res.Error = "restricted: " + m.Error
	}
	return nil
}

// checkCode asks an interpreter for RestrictedPython's version after a
// real compile, which bookworm's 4.0b3 fails on Python 3.11.
const checkCode = `from RestrictedPython import compile_restricted_exec
r = compile_restricted_exec("def f(x):\n    return x + 1\n")
assert not r.errors, r.errors
try:
    from importlib.metadata import version
    print(version("RestrictedPython"))
except Exception:
    print("unknown")
`

// found caches what interpreter found, by the name asked for and PATH:
// asking costs two Python start-ups (and a pyenv shim's resolution).
var found sync.Map

type foundPython struct{ py, version string }

// interpreter finds a Python with a working RestrictedPython: the one
// asked for, else python3 on PATH, else the distribution's. Only a
// success is cached, so that installing RestrictedPython takes effect.
func interpreter(ctx context.Context, asked string) (py, version string, err error) {
	key := asked + "\x00" + os.Getenv("PATH") + "\x00" + fallbackPython
	if f, ok := found.Load(key); ok {
		return f.(foundPython).py, f.(foundPython).version, nil
	}
	py, version, err = findInterpreter(ctx, asked)
	if err == nil {
		found.Store(key, foundPython{py, version})
	}
	return py, version, err
}

func findInterpreter(ctx context.Context, asked string) (py, version string, err error) {
	cands := []string{asked}
	if asked == "" {
		cands = []string{"", fallbackPython}
	}
	var why []string
	for _, c := range cands {
		rt, err := pyrt.Resolve(c, os.Getenv("PATH"), pyrt.DefaultCacheDir())
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		out, err := exec.CommandContext(cctx, rt.Executable, "-I", "-c", checkCode).CombinedOutput()
		cancel()
		if err == nil {
			return rt.Executable, strings.TrimSpace(string(out)), nil
		}
		why = append(why, rt.Executable+": "+lastLine(string(out), err))
	}
	return "", "", fmt.Errorf("restricted: no working RestrictedPython (%s); install it: apt-get install python3-restrictedpython (8.0 from Debian trixie; bookworm's 4.0b3 fails on Python 3.11, see .ci/setup-restricted.sh) or pip install RestrictedPython: %w",
		strings.Join(why, "; "), moat.ErrUnavailable)
}

func lastLine(out string, err error) string {
	out = strings.TrimSpace(out)
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if out == "" {
		return err.Error()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out
	}
	return out + " (" + err.Error() + ")"
}

// dropMarker passes stderr on live except a first line that is the
// runner's own (it goes to Result.Error instead).
type dropMarker struct {
	w       io.Writer
	decided bool
	head    []byte
}

func (d *dropMarker) Write(p []byte) (int, error) {
	if d.decided {
		return d.w.Write(p)
	}
	d.head = append(d.head, p...)
	n := min(len(d.head), len(marker))
	if string(d.head[:n]) != marker[:n] {
		d.decided = true
		_, err := d.w.Write(d.head)
		d.head = nil
		return len(p), err
	}
	i := bytes.IndexByte(d.head, '\n')
	if i < 0 {
		if len(d.head) > 64<<10 {
			d.decided = true // not the runner's: it writes one short line
			_, err := d.w.Write(d.head)
			d.head = nil
			return len(p), err
		}
		return len(p), nil
	}
	d.decided = true
	rest := d.head[i+1:]
	d.head = nil
	if len(rest) > 0 {
		if _, err := d.w.Write(rest); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}
