package docker

import "testing"

// WithoutSinkCaps starts the sink helpers of t's runs with no capability
// (the helper then cannot set its rules up: a run must be refused).
func WithoutSinkCaps(t *testing.T) {
	old := sinkCaps
	sinkCaps = []string{}
	t.Cleanup(func() { sinkCaps = old })
}
