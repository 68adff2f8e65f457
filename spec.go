package moat

import (
	"fmt"
	"os"
	"path"
	"strings"
)

// maxFileName is the longest file name Linux, the BSDs and macOS hold
// (NAME_MAX, in bytes).
const maxFileName = 255

// Validate checks a Spec for what every backend needs; backends call it
// first. The error wraps ErrInvalidSpec or ErrUnsupported.
func (s *Spec) Validate() error {
	if len(s.Args) == 0 {
		return fmt.Errorf("no program to run: %w", ErrInvalidSpec)
	}
	for i, a := range s.Args {
		if strings.ContainsRune(a, 0) {
			return fmt.Errorf("argument %d of the interpreter contains a NUL byte: %w", i+1, ErrInvalidSpec)
		}
	}
	for _, kv := range s.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, "\x00") || strings.ContainsRune(kv, 0) {
			return fmt.Errorf("environment entry %q is not KEY=VALUE: %w", kv, ErrInvalidSpec)
		}
	}
	for name := range s.Files {
		c := path.Clean(name)
		if name == "" || c != name || strings.HasPrefix(c, "/") || c == "." || c == ".." || strings.ContainsRune(c, 0) || strings.HasPrefix(c, "../") || strings.Contains(c, "/") {
			return fmt.Errorf("file name %q must be a plain name in the working directory: %w", name, ErrInvalidSpec)
		}
		// A name the kernel cannot hold (NAME_MAX) failed only inside the
		// sandbox, as the backend's own error (a zygote child's pid 1 read
		// EOF); refused here, it is the caller's one clear line.
		if len(name) > maxFileName {
			return fmt.Errorf("file name %.40q... is %d bytes, over %d: %w", name, len(name), maxFileName, ErrInvalidSpec)
		}
	}
	l := s.Limits
	if l.Timeout < 0 || l.Memory < 0 || l.Pids < 0 || l.CPUs < 0 || l.Disk < 0 || l.OutputLimit < 0 {
		return fmt.Errorf("negative limit: %w", ErrInvalidSpec)
	}
	if l.Memory != 0 && l.Memory < 16<<20 {
		return fmt.Errorf("memory limit %d is below 16MiB, too small for Python: %w", l.Memory, ErrInvalidSpec)
	}
	// The sandbox's own files (its home's, the report's planted ones,
	// a container's /etc) take some 100 KiB of the writable space: below
	// a MiB the run failed in its setup, "no space left on device".
	if l.Disk != 0 && l.Disk < minDisk {
		return fmt.Errorf("disk limit %d is below 1MiB, too small for the sandbox's own files: %w", l.Disk, ErrInvalidSpec)
	}
	if l.Pids != 0 && l.Pids < 4 {
		return fmt.Errorf("pids limit %d is below 4: %w", l.Pids, ErrInvalidSpec)
	}
	if _, err := ParseNetwork(string(s.Network)); err != nil {
		return err
	}
	if s.Workspace != "" {
		fi, err := os.Stat(s.Workspace)
		if err != nil {
			return fmt.Errorf("workspace: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("workspace %s is not a directory: %w", s.Workspace, ErrInvalidSpec)
		}
	}
	if s.OutDir != "" {
		if err := checkOutDir(s.OutDir); err != nil {
			return err
		}
	}
	return nil
}

// minDisk is the smallest Limits.Disk a spec may ask for.
const minDisk = 1 << 20

// checkOutDir requires an empty or missing directory that can be written,
// so that nothing the sandbox sends back can meet an existing file or link.
func checkOutDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case os.IsNotExist(err):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("out directory: %w", err)
		}
	case err != nil:
		return fmt.Errorf("out directory: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("out directory %s is not a directory: %w", dir, ErrInvalidSpec)
	default:
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("out directory: %w", err)
		}
		if len(ents) > 0 {
			return fmt.Errorf("out directory %s is not empty: %w", dir, ErrInvalidSpec)
		}
	}
	f, err := os.CreateTemp(dir, ".moat-probe-*")
	if err != nil {
		return fmt.Errorf("out directory is not writable: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}
