//go:build !linux || !(amd64 || arm64)

package seccomp

import (
	"syscall"

	"golang.org/x/net/bpf"
)

// NotifyProgram reports errors.ErrUnsupported on this platform.
func NotifyProgram() ([]bpf.RawInstruction, error) { return nil, errPlatform }

// InstallNotify reports errors.ErrUnsupported on this platform.
func InstallNotify() (listener int, rules int, err error) { return -1, 0, errPlatform }

// ExecWatchProgram is not available on this platform.
func ExecWatchProgram() ([]bpf.RawInstruction, error) { return nil, errPlatform }

// InstallExecWatch is not available on this platform.
func InstallExecWatch() (listener int, err error) { return -1, errPlatform }

// GuardNames is empty on this platform: no guard.
func GuardNames() []string { return nil }

// InstallGuard is not available on this platform.
func InstallGuard() (listener int, err error) { return -1, errPlatform }

// DenyErrno knows no deny list on this platform.
func DenyErrno(nr uint32) (errno syscall.Errno, name string, ok bool) { return 0, "", false }
