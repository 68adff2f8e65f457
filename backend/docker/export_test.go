package docker

import (
	"context"
	"testing"

	"github.com/docker/docker/client"
)

// WithoutSinkCaps starts the sink helpers of t's runs with no capability
// (the helper then cannot set its rules up: a run must be refused).
func WithoutSinkCaps(t *testing.T) {
	old := sinkCaps
	sinkCaps = []string{}
	t.Cleanup(func() { sinkCaps = old })
}

// OnHost is onHost of the daemon at host (a fresh engine's: no answer kept).
func OnHost(ctx context.Context, host string) (bool, string) {
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return false, err.Error()
	}
	defer cli.Close()
	return (&engine{cli: cli}).onHost(ctx)
}

// SinkRefused is why the daemon at host gets no sinkhole ("" if it does),
// for a run with an init volume.
func SinkRefused(ctx context.Context, host string) string {
	b := &Backend{Host: host}
	e, err := b.engine()
	if err != nil {
		return err.Error()
	}
	return b.sinkRefused(ctx, e, "init")
}

// StartEtcVolume makes a run's /etc volume at the daemon at host as a run
// that is starting does (etcVolume: before the container that mounts it),
// and returns its name.
func StartEtcVolume(ctx context.Context, host, image string) (string, error) {
	e, err := (&Backend{Host: host}).engine()
	if err != nil {
		return "", err
	}
	_, f, err := e.etcVolume(ctx, image, "starting", []byte("root:x:0:0:root:/root:/bin/sh\n"), []byte("root:x:0:\n"))
	return f.vol, err
}
