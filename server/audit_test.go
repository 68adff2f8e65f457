//go:build linux

package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/moat-sandbox/moat/server"
)

// lockedBuffer is a log destination the server's goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogRunIDs: the server's structured log (slog) names each run by the
// id its creator got (Moat-Run-Id) when it is queued and when it is done,
// with its backend and status, so an operator can follow one run; and no
// record holds a bearer token, whether it was accepted or refused.
func TestLogRunIDs(t *testing.T) {
	var buf lockedBuffer
	f := newFixture(t, server.Config{Log: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(1)"})
	if resp.StatusCode != 200 || m["status"] != "exited" {
		t.Fatalf("create: %d %v", resp.StatusCode, m)
	}
	id := resp.Header.Get("Moat-Run-Id")
	if id == "" {
		t.Fatal("no Moat-Run-Id")
	}
	if resp, _ := f.do("POST", "/v1/runs?wait=true", "wrong-token-0123456789", map[string]any{"code": "print(1)"}); resp.StatusCode != 401 {
		t.Fatalf("wrong token: %d, want 401", resp.StatusCode)
	}
	logged := buf.String()
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(logged), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line that is not one JSON record: %q: %v", line, err)
		}
		if rec["run"] != id {
			continue
		}
		msg, _ := rec["msg"].(string)
		seen[msg] = true
		if msg == "run done" && (rec["backend"] != "native" || rec["status"] != "exited") {
			t.Errorf("run done record without its backend and status: %v", rec)
		}
	}
	for _, want := range []string{"run queued", "run done"} {
		if !seen[want] {
			t.Errorf("no %q record with run %q; log:\n%s", want, id, logged)
		}
	}
	for _, tok := range []string{tokenA, "wrong-token-0123456789"} {
		if strings.Contains(logged, tok) {
			t.Errorf("the log holds a bearer token %q:\n%s", tok, logged)
		}
	}
}

// TestOtherTokenSeesNothing: every route that names a run (get, stream,
// cancel, delete) answers another token as if the run did not exist, and
// leaves the run as it was.
func TestOtherTokenSeesNothing(t *testing.T) {
	f := newFixture(t, server.Config{})
	resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print('mine')"})
	if resp.StatusCode != 200 || m["stdout"] != "mine\n" {
		t.Fatalf("create: %d %v", resp.StatusCode, m)
	}
	id := resp.Header.Get("Moat-Run-Id")
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/runs/" + id},
		{"GET", "/v1/runs/" + id + "/stream"},
		{"POST", "/v1/runs/" + id + "/cancel"},
		{"DELETE", "/v1/runs/" + id},
	} {
		resp, m := f.do(r.method, r.path, tokenB, nil)
		if resp.StatusCode != 404 || strings.Contains(fmt.Sprint(m), "mine") {
			t.Errorf("%s %s with another token: %d %v, want 404 and nothing of the run", r.method, r.path, resp.StatusCode, m)
		}
	}
	resp, m = f.do("GET", "/v1/runs/"+id, tokenA, nil)
	if resp.StatusCode != 200 || m["state"] != "done" || m["result"].(map[string]any)["stdout"] != "mine\n" {
		t.Errorf("the creator's run after the other token's tries: %d %v", resp.StatusCode, m)
	}
}
