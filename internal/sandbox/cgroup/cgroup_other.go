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

// Split is a run's group divided between a supervisor and its program;
// control groups are Linux-only.
type Split struct{ Prog, Init Group }

// NewSplit returns an error wrapping [ErrUnavailable]: control groups are Linux-only.
func NewSplit(outer Group, progMemory int64) (*Split, error) { return nil, errNotLinux }

// InitEntry returns an error: control groups are Linux-only.
func (s *Split) InitEntry() (*Entry, error) { return nil, errNotLinux }

// ProgFiles returns an error: control groups are Linux-only.
func (s *Split) ProgFiles() (enter, leave []*os.File, err error) { return nil, nil, errNotLinux }
