//go:build !linux

package cgroup

import (
	"fmt"
	"os"
	"runtime"
)

var errNotLinux = fmt.Errorf("cgroup: %w: control groups exist only on Linux, not %s", ErrUnavailable, runtime.GOOS)

// New returns an error wrapping [ErrUnavailable]: control groups are Linux-only.
func New(name string, l Limits) (Group, error) { return nil, errNotLinux }

// Probe returns an error wrapping [ErrUnavailable]: control groups are Linux-only.
func Probe() (Info, error) { return Info{}, errNotLinux }

// GC returns an error wrapping [ErrUnavailable]: control groups are Linux-only.
func GC(prefix string) ([]string, error) { return nil, errNotLinux }

// Home returns nil: control groups are Linux-only.
func Home(g Group) ([]*os.File, error) { return nil, nil }
