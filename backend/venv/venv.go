// Package venv is the first row of the seed's comparison: a fresh Python
// virtual environment on the host, with no isolation at all. A venv manages
// dependencies; it is not a security boundary, and the program it runs has
// the full access of the user who runs moat: files, network, processes.
//
// It exists so that the comparison is measured rather than asserted
// (`moat audit` shows what it lets through) and for trusted code that only
// needs a clean environment. `auto` never picks it (its level is none), and
// `moat run` refuses it without --i-accept-no-isolation and warns on stderr
// every time.
//
// What it still enforces, honestly listed in Result.Layers (see
// backend/internal/hostrun): a fresh venv and working directory per run,
// removed afterwards; a clean environment; a process group killed at the
// end; the timeout and output caps; rlimits (address space per process,
// file size per file, CPU, no core files).
package venv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/hostrun"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
)

// Backend is the venv backend. The zero value is ready to use.
type Backend struct{}

var (
	_ moat.Backend   = (*Backend)(nil)
	_ moat.Checker   = (*Backend)(nil)
	_ moat.Supporter = (*Backend)(nil)
	_ moat.Describer = (*Backend)(nil)
)

func init() {
	moat.Register("venv", func() moat.Backend { return &Backend{} })
}

// Check needs a host Python with the venv module.
func (b *Backend) Check(ctx context.Context) error {
	py, err := hostPython("")
	if err != nil {
		return fmt.Errorf("venv: %w: %w", err, moat.ErrUnavailable)
	}
	cmd := exec.CommandContext(ctx, py, "-I", "-c", "import venv")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("venv: %s cannot import venv (%s): install python3-venv: %w", py, firstLine(out, err), moat.ErrUnavailable)
	}
	return nil
}

// Describe says what the backend is, for `moat backends`.
func (b *Backend) Describe(ctx context.Context) []string {
	py, _ := hostPython("")
	return []string{"no isolation (dependency management only); python " + py, "needs --i-accept-no-isolation; never picked by auto"}
}

// Supports refuses what a venv cannot enforce: an image, and any network
// mode but none, which it cannot enforce either; a venv has the host's
// network, and says so in its layers rather than pretend.
func (b *Backend) Supports(spec *moat.Spec) error {
	if spec.Image != "" {
		return fmt.Errorf("venv: --image %q: a venv runs the host's Python: %w", spec.Image, moat.ErrUnsupported)
	}
	if spec.Network != moat.NetworkNone {
		return fmt.Errorf("venv: --network %s: a venv has the host's network and can enforce no network mode: %w", spec.Network, moat.ErrUnsupported)
	}
	return nil
}

// Run makes a fresh venv (without pip) in a private directory, runs the
// program with it on the host and removes the directory.
func (b *Backend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("venv: %w", err)
	}
	if err := b.Supports(spec); err != nil {
		return nil, err
	}
	py, err := hostPython(spec.Python)
	if err != nil {
		return nil, fmt.Errorf("venv: %w", err)
	}
	dir, err := os.MkdirTemp("", "moat-venv-")
	if err != nil {
		return nil, fmt.Errorf("venv: %w", err)
	}
	defer os.RemoveAll(dir)
	env := filepath.Join(dir, "venv")
	vctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	out, err := exec.CommandContext(vctx, py, "-I", "-m", "venv", "--without-pip", env).CombinedOutput()
	cancel()
	if err != nil {
		return nil, fmt.Errorf("venv: make the venv with %s: %s: %w", py, firstLine(out, err), moat.ErrUnavailable)
	}
	r := &hostrun.Run{Python: filepath.Join(env, "bin", "python"), Args: spec.Args, Dir: dir, Spec: spec}
	res, err := r.Do(ctx)
	if res != nil {
		res.Isolation = "venv"
		res.Layers = append([]moat.Layer{{Name: "venv", Detail: "fresh venv without pip; no isolation"}}, res.Layers...)
	}
	if err != nil {
		return res, fmt.Errorf("venv: %w", err)
	}
	return res, nil
}

// hostPython resolves the interpreter as the other backends do (python3 on
// PATH; pyenv shims and venvs resolved to the real binary), with the
// cache they share.
func hostPython(name string) (string, error) {
	rt, err := pyrt.Resolve(name, os.Getenv("PATH"), pyrt.DefaultCacheDir())
	if err != nil {
		return "", err
	}
	return rt.Executable, nil
}

func firstLine(out []byte, err error) string {
	s := string(out)
	for i, c := range s {
		if c == '\n' {
			s = s[:i]
			break
		}
	}
	if s == "" {
		return err.Error()
	}
	return s
}
