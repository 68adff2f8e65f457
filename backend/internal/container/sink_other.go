//go:build !linux

package container

import (
	"errors"
	"os/exec"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// Sink is a sinkhole served from the host (Linux only).
type Sink struct{}

// SinkSupported: a container's sinkhole is served from the host's side of
// Linux namespaces.
func SinkSupported() error {
	return errors.New("the sinkhole of a container needs moat on the Linux host of the engine")
}

func startSink(int, *honeytoken.Metadata, time.Time, func(...string) *exec.Cmd) (*Sink, error) {
	return nil, SinkSupported()
}

func sinkSupported(bool) error { return SinkSupported() }

// StartSinkIn: see SinkSupported.
func StartSinkIn(int, *honeytoken.Metadata, time.Time) (*Sink, error) { return nil, SinkSupported() }

// StartSinkVia: see SinkSupported.
func StartSinkVia(func() (*SinkProc, error), *honeytoken.Metadata, time.Time) (*Sink, error) {
	return nil, SinkSupported()
}

// CAPEM is nil off Linux.
func (s *Sink) CAPEM() []byte { return nil }

// Stop does nothing off Linux.
func (s *Sink) Stop() ([]moat.Event, int) { return nil, 0 }
