//go:build linux

package native_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/moattest"
)

func runNet(t *testing.T, network moat.Network, prog string) *moat.Result {
	t.Helper()
	moattest.RequireBackend(t, "native")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := newBackend().Run(ctx, &moat.Spec{
		Args:    []string{"prog.py"},
		Files:   map[string][]byte{"prog.py": []byte(prog)},
		Network: network,
		Limits:  moat.Limits{Timeout: 30 * time.Second},
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		t.Fatalf("status %s exit %d\nstdout:\n%s\nstderr:\n%s", res.Status, res.ExitCode, res.Stdout, res.Stderr)
	}
	return res
}

// netEvent returns the first network event of kind whose fields contain
// every one of want (addr, name, detail, path, data, in any of them).
func netEvent(res *moat.Result, kind moat.Kind, want ...string) *moat.Event {
	for i, ev := range res.Events {
		if ev.Source != "network" || ev.Kind != kind {
			continue
		}
		all := strings.Join([]string{ev.Addr, ev.Name, ev.Detail, ev.Path, ev.Data}, "\x00")
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(all, w)
		}
		if ok {
			return &res.Events[i]
		}
	}
	return nil
}

func dumpNet(res *moat.Result) string {
	var b strings.Builder
	for _, ev := range res.Events {
		if ev.Source == "network" {
			fmt.Fprintf(&b, "  %+v\n", ev)
		}
	}
	return b.String()
}

// TestNetworkSinkhole: the shared sinkhole case (moattest.Sinkhole), and
// native's layer naming it.
func TestNetworkSinkhole(t *testing.T) {
	moattest.RequireBackend(t, "native")
	res := moattest.Sinkhole(t, newBackend(), nil)
	if !hasLayer(res, "network-namespace", "sinkhole") {
		t.Errorf("layers: %+v", res.Layers)
	}
}

func hasLayer(res *moat.Result, name, detail string) bool {
	for _, l := range res.Layers {
		if l.Name == name && strings.Contains(l.Detail, detail) {
			return true
		}
	}
	return false
}

func TestNetworkAllow(t *testing.T) {
	var hits atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "hello %s %s", r.URL.Path, body)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	otherPort, otherAccepted := moattest.HostListener(t, "127.0.0.1:0")

	prog := fmt.Sprintf(`
import socket, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%d/ok", data=b"payload", timeout=10).read().decode())
try:
    # Accepted by moat and reset at once: the reset may already be seen
    # by connect.
    s = socket.create_connection(("127.0.0.1", %d), timeout=10)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    print("other got", s.recv(100))
except OSError as e:
    print("other refused", type(e).__name__)
try:
    socket.gethostbyname("not-allowed.example")
    print("resolved")
except socket.gaierror:
    print("nxdomain")
`, port, otherPort)
	res := runNet(t, moat.NetworkAllow(fmt.Sprintf("127.0.0.1:%d", port)), prog)
	for _, w := range []string{"hello /ok payload", "nxdomain"} {
		if !strings.Contains(res.Stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout, "other got b'") && !strings.Contains(res.Stdout, "other got b''") {
		t.Errorf("a port off the list answered:\n%s", res.Stdout)
	}
	if hits.Load() != 1 {
		t.Errorf("allowed server saw %d requests, want 1", hits.Load())
	}
	time.Sleep(100 * time.Millisecond)
	if n := otherAccepted(); n != 0 {
		t.Errorf("a listener off the allow list got %d connections", n)
	}
	for _, c := range []struct {
		what string
		ev   *moat.Event
	}{
		{"allowed connect", netEvent(res, "connect", fmt.Sprintf("127.0.0.1:%d", port), "allowed tcp", "/ok")},
		{"refused connect", netEvent(res, "connect", fmt.Sprintf("127.0.0.1:%d", otherPort), "refused tcp")},
		{"refused name", netEvent(res, "dns", "not-allowed.example", "refused A NXDOMAIN")},
	} {
		if c.ev == nil {
			t.Errorf("no event for %s; network events:\n%s", c.what, dumpNet(res))
		}
	}
}
