package container

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestSinkRefusesHostNamespace: a sinkhole is never set up in moat's own
// network namespace (a pid that is not a container's, or a container that
// shares the host's network): it fails, and nothing is changed.
func TestSinkRefusesHostNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		if err := SinkSupported(); err == nil || !strings.Contains(err.Error(), "root") {
			t.Fatalf("not root: SinkSupported() = %v, want the reason", err)
		}
		t.Skip("the rest needs root")
	}
	for _, pid := range []int{os.Getpid(), 1} {
		s, err := startSink(pid, nil, time.Now(), nil)
		if err == nil {
			s.Stop()
			t.Fatalf("startSink(%d) in moat's own network namespace succeeded", pid)
		}
		t.Logf("pid %d: %v", pid, err)
	}
}
