package container

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/internal/transfer/capture"
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

// TestSinkHere: the sink helper that serves the network namespace it runs
// in (SinkHelperHere, a docker helper container's pid 1) refuses unless it
// is pid 1 of a pid namespace of its own in a namespace with lo alone;
// there it serves the sink and reports its events. Each case runs this
// test binary as the helper under unshare(1), with its real checks.
func TestSinkHere(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unshare of network and pid namespaces needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare(1)")
	}
	helper := func(t *testing.T, unshare ...string) *SinkProc {
		t.Helper()
		cmd := exec.Command("unshare", append(unshare, "--", os.Args[0], SinkHelperArg, SinkHelperHere)...)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &capture.Head{W: &stderr, N: 4096}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return &SinkProc{Stdin: stdin, Stdout: stdout, Stderr: stderr.String, End: func(kill bool) {
			if kill {
				_ = cmd.Process.Kill()
			}
			_ = cmd.Wait()
		}}
	}
	for _, c := range []struct {
		name    string
		unshare []string
		want    string
	}{
		{"not-pid-1", []string{"--net"}, "only as pid 1"},
		{"host-network", []string{"--pid", "--fork", "--kill-child"}, "besides lo"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := StartSinkVia(func() (*SinkProc, error) { return helper(t, c.unshare...), nil }, nil, time.Now())
			if err == nil {
				s.Stop()
				t.Fatalf("the helper served a sink under unshare %v", c.unshare)
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line with %q", err, c.want)
			}
		})
	}
	t.Run("own-namespaces", func(t *testing.T) {
		s, err := StartSinkVia(func() (*SinkProc, error) {
			return helper(t, "--net", "--pid", "--fork", "--kill-child"), nil
		}, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(s.CAPEM()), "BEGIN CERTIFICATE") {
			t.Errorf("CA = %q", s.CAPEM())
		}
		evs, dropped := s.Stop()
		if len(evs) != 0 || dropped != 0 {
			t.Errorf("events of a sink nothing used: %+v, %d dropped", evs, dropped)
		}
	})
}
