//go:build linux

package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/server"
)

// records is a slog.Handler that keeps every record, as a map of its
// message and attributes, for the test to read while the server runs.
type records struct {
	mu    *sync.Mutex
	all   *[]map[string]any
	attrs []slog.Attr
}

func newRecords() records { return records{mu: &sync.Mutex{}, all: &[]map[string]any{}} }

func (r records) Enabled(context.Context, slog.Level) bool { return true }

func (r records) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]any{"msg": rec.Message}
	for _, a := range r.attrs {
		m[a.Key] = a.Value.Any()
	}
	rec.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.Any()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.all = append(*r.all, m)
	return nil
}

func (r records) WithAttrs(as []slog.Attr) slog.Handler {
	r.attrs = append(slices.Clip(r.attrs), as...)
	return r
}

func (r records) WithGroup(string) slog.Handler { return r }

func (r records) list() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(*r.all)
}

// TestLogRunIDs: the server's structured log (slog) names each run by the
// id its creator got (Moat-Run-Id) when it is queued and when it is done,
// with its backend and status, so an operator can follow one run; and no
// record holds a bearer token, whether it was accepted or refused.
func TestLogRunIDs(t *testing.T) {
	recs := newRecords()
	f := newFixture(t, server.Config{Log: slog.New(recs)})
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
	logged := recs.list()
	seen := map[string]bool{}
	for _, rec := range logged {
		if rec["run"] != id {
			continue
		}
		msg, _ := rec["msg"].(string)
		seen[msg] = true
		if msg == "run done" && (rec["backend"] != "native" || rec["status"] != moat.StatusExited) {
			t.Errorf("run done record without its backend and status: %v", rec)
		}
	}
	for _, want := range []string{"run queued", "run done"} {
		if !seen[want] {
			t.Errorf("no %q record with run %q; log: %v", want, id, logged)
		}
	}
	for _, tok := range []string{tokenA, "wrong-token-0123456789"} {
		if strings.Contains(fmt.Sprint(logged), tok) {
			t.Errorf("the log holds a bearer token %q: %v", tok, logged)
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
