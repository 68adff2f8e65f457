package moattest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// HostData runs, on b, what a test suite expects of a CI runner's /etc
// (pyrt.HostData): service and protocol names, and the CA store, which
// holds the host's roots with no network or an allow list and the run's
// CA alone under the sinkhole (nothing of the host's trusted there).
func HostData(t *testing.T, b func() moat.Backend) {
	t.Helper()
	const prog = `
import socket, ssl
print(socket.getservbyname("http", "tcp"), socket.getprotobyname("tcp"), ssl.create_default_context().cert_store_stats()["x509_ca"])
`
	for _, c := range []struct {
		network moat.Network
		many    bool // the host's roots (a Debian store has more than 100)
	}{{moat.NetworkNone, true}, {moat.NetworkSinkhole, false}} {
		var out, errb bytes.Buffer
		res, err := b().Run(context.Background(), &moat.Spec{Args: []string{"-c", prog}, Network: c.network, Stdout: &out, Stderr: &errb})
		if err != nil {
			t.Fatalf("network %q: %v", c.network, err)
		}
		f := strings.Fields(out.String())
		if res.Status != moat.StatusExited || res.ExitCode != 0 || len(f) != 3 {
			t.Fatalf("network %q: %s exit %d: %q %q", c.network, res.Status, res.ExitCode, out.String(), errb.String())
		}
		if f[0] != "80" || f[1] != "6" {
			t.Errorf("network %q: http's port and tcp's number: %s %s, want 80 6", c.network, f[0], f[1])
		}
		if many := len(f[2]) >= 3; many != c.many || f[2] == "0" {
			t.Errorf("network %q: %s CAs trusted; want the host's (more than 100): %v", c.network, f[2], c.many)
		}
	}
}
