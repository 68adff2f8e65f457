package pkgtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moat-sandbox/moat/internal/transfer/archive"
)

// ErrUsage marks an error the user caused (bad target, flag or
// directory): the CLI exits 125 with the message.
var ErrUsage = errors.New("usage")

// usagef is fmt.Errorf for an error the user caused: it matches ErrUsage
// without adding a word to the message.
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

type usageError struct{ error }

func (e usageError) Unwrap() error        { return e.error }
func (e usageError) Is(target error) bool { return target == ErrUsage }

// Kind is what a target is.
type Kind string

// Kinds of target.
const (
	KindProject      Kind = "project"      // a directory with pyproject.toml or setup.py
	KindSdist        Kind = "sdist"        // a .tar.gz source distribution
	KindWheel        Kind = "wheel"        // a .whl
	KindRequirements Kind = "requirements" // a pip requirements file (-r FILE)
)

// Target is what `moat test` tests.
type Target struct {
	Kind Kind   `json:"kind"`
	Path string `json:"path"` // absolute, on the host
	// Root is the sdist's top-level directory, where its tests are.
	Root string `json:"-"`
}

// DetectTarget tells what path is: a project directory, an sdist, a
// wheel, or (by name requirements*.txt, or when requirements is set) a
// requirements file. Archives are validated here with internal/transfer/archive:
// a hostile or corrupt one is an error wrapping ErrUsage.
func DetectTarget(path string, requirements bool) (Target, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Target{}, usagef("target %s: %w", path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Target{}, usagef("target %s: no such file or directory", path)
	}
	base := strings.ToLower(filepath.Base(abs))
	switch {
	case fi.IsDir():
		if requirements {
			return Target{}, usagef("target %s: a directory, not a requirements file", path)
		}
		for _, f := range []string{"pyproject.toml", "setup.py"} {
			if st, err := os.Stat(filepath.Join(abs, f)); err == nil && st.Mode().IsRegular() {
				return Target{Kind: KindProject, Path: abs}, nil
			}
		}
		return Target{}, usagef("target %s: no Python project here (no pyproject.toml or setup.py)", path)
	case !fi.Mode().IsRegular():
		return Target{}, usagef("target %s: not a regular file", path)
	case requirements || (strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt")):
		if fi.Size() > 1<<20 {
			return Target{}, usagef("target %s: requirements file larger than 1MiB", path)
		}
		return Target{Kind: KindRequirements, Path: abs}, nil
	case strings.HasSuffix(base, ".tar.gz") || strings.HasSuffix(base, ".tgz"):
		info, err := archive.CheckFile(abs, archive.Limits{})
		if err != nil {
			return Target{}, usagef("sdist %s: %w", filepath.Base(abs), err)
		}
		// No single top-level directory (Root ""): pip builds it from
		// its top, as a real malicious upload had it.
		return Target{Kind: KindSdist, Path: abs, Root: info.Root}, nil
	case strings.HasSuffix(base, ".whl"):
		if _, err := archive.CheckFile(abs, archive.Limits{}); err != nil {
			return Target{}, usagef("wheel %s: %w", filepath.Base(abs), err)
		}
		return Target{Kind: KindWheel, Path: abs}, nil
	}
	return Target{}, usagef("target %s: not a project directory, .tar.gz sdist, .whl wheel or requirements*.txt (use --requirements for another name)", path)
}

// checkWheelhouse validates every archive in dir (only the top level is
// read by pip --find-links).
func checkWheelhouse(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return usagef("--wheelhouse %s: no such directory", dir)
	}
	if !fi.IsDir() {
		return usagef("--wheelhouse %s: not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return usagef("--wheelhouse %s: %w", dir, err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || archive.KindOf(e.Name()) == archive.Unknown {
			continue
		}
		if _, err := archive.CheckFile(filepath.Join(dir, e.Name()), archive.Limits{}); err != nil {
			return usagef("--wheelhouse: %s: %w", e.Name(), err)
		}
	}
	return nil
}
