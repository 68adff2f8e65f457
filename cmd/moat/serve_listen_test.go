package main

import "testing"

// TestServeListenLoopback: moat serve listens on loopback only unless
// told otherwise: an address of every interface, an empty host or a
// non-loopback address is refused in one line (exit 125) that names
// --allow-remote, before anything listens.
func TestServeListenLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.0.2.1:0", "[2001:db8::1]:0", "example.com:0"} {
		r := moatRun(t, nil, "serve", "--listen", addr, "--socket", "", "--state-dir", t.TempDir())
		if r.code != exitFailure {
			t.Fatalf("--listen %s: %v", addr, r)
		}
		wantOneLine(t, r.stderr, "is not a loopback address; pass --allow-remote")
	}
}
