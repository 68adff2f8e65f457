//go:build !linux

package container

import (
	"errors"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

type sink struct{}

// SinkSupported: a container's sinkhole is served from the host's side of
// Linux namespaces.
func SinkSupported() error {
	return errors.New("the sinkhole of a container needs moat on the Linux host of the engine")
}

func startSink(int, *honeytoken.Metadata, time.Time) (*sink, error) { return nil, SinkSupported() }

func (s *sink) caPEM() []byte { return nil }

func (s *sink) stop() ([]moat.Event, int) { return nil, 0 }
