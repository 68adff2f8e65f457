//go:build !linux || !(amd64 || arm64)

package seccomp

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/net/bpf"
)

var errPlatform = fmt.Errorf("seccomp: %s/%s: %w", runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)

// Program returns the assembled default filter for the running architecture.
// On this platform it reports errors.ErrUnsupported.
func Program() ([]bpf.RawInstruction, error) { return nil, errPlatform }

// Install sets no_new_privs and installs Program() on all threads of the
// calling process. On this platform it reports errors.ErrUnsupported.
func Install() (rules int, err error) { return 0, errPlatform }

// Denied lists the syscall names the filter denies, sorted. On this platform
// there is no filter and the list is empty.
func Denied() []string { return nil }

// Clone3Program returns the filter that fails clone3 with ENOSYS. On this
// platform it reports errors.ErrUnsupported.
func Clone3Program() ([]bpf.RawInstruction, error) { return nil, errPlatform }

// InstallClone3ENOSYS installs Clone3Program(). On this platform it
// reports errors.ErrUnsupported.
func InstallClone3ENOSYS() error { return errPlatform }

// nativeMachines: none known here (ExecCheck then never says Swapped).
var nativeMachines []uint16
