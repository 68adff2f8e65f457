package microvm

import (
	"context"
	"errors"
)

// firecracker boots VMs with Firecracker through its API socket.
type firecracker struct{}

func (f *firecracker) name() string { return "firecracker" }

func (f *firecracker) version(ctx context.Context) (string, error) {
	return "", errors.New("firecracker engine: not built yet")
}

func (f *firecracker) start(cfg *vmConfig) (machine, error) {
	return nil, errors.New("firecracker engine: not built yet")
}
