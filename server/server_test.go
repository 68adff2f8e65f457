//go:build linux

package server_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/all"
	"github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/internal/pool"
	"github.com/moat-sandbox/moat/moattest"
	"github.com/moat-sandbox/moat/server"
)

func TestMain(m *testing.M) {
	all.Init() // the sandbox init re-executes this test binary
	os.Exit(m.Run())
}

const (
	tokenA     = "token-a-0123456789abcdef"
	tokenB     = "token-b-0123456789abcdef"
	tokenAdmin = "token-admin-0123456789ab" // may read the metrics only
)

type fixture struct {
	t   *testing.T
	srv *server.Server
	ts  *httptest.Server
}

// newFixture starts a Server on loopback with two tokens, native runs.
func newFixture(t *testing.T, cfg server.Config) *fixture {
	t.Helper()
	moattest.RequireBackend(t, "native")
	toks, err := server.NewTokens(tokenA, tokenB)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tokens = toks
	if cfg.AdminTokens, err = server.NewTokens(tokenAdmin); err != nil {
		t.Fatal(err)
	}
	if cfg.Isolation == "" {
		cfg.Isolation = "native"
	}
	if cfg.Log == nil {
		// Warnings (the HTTP server's own errors) go to the test's log.
		cfg.Log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(s.Handler())
	ts.Config = server.NewHTTPServer(s.Handler(), cfg.Log)
	ts.Start()
	f := &fixture{t: t, srv: s, ts: ts}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Shutdown(ctx)
		ts.Close()
		noChildren(t)
	})
	return f
}

// do sends a request with token tok ("" for none) and decodes the answer.
func (f *fixture) do(method, path, tok string, body any) (*http.Response, map[string]any) {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, f.ts.URL+path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{"raw": string(raw)}
	}
	return resp, m
}

// noChildren checks that no process this test started is left: every
// sandbox init is a child of the test process.
func noChildren(t *testing.T) {
	t.Helper()
	var left []string
	for range 50 {
		left = children()
		if len(left) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("processes left: %v", left)
}

// children are this process's children, as "pid (comm)".
func children() []string {
	var out []string
	for _, pid := range moattest.ChildrenOf(os.Getpid()) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		out = append(out, fmt.Sprintf("%d (%s)", pid, strings.TrimSpace(string(comm))))
	}
	return out
}

func TestRunWaitAndAuth(t *testing.T) {
	f := newFixture(t, server.Config{})
	resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "import sys; print(sys.argv[1:]); print(input())", "args": []string{"a"}, "stdin": "in\n"})
	if resp.StatusCode != 200 {
		t.Fatalf("create: %d %v", resp.StatusCode, m)
	}
	if m["status"] != "exited" || m["stdout"] != "['a']\nin\n" || m["isolation"] != "native" {
		t.Fatalf("result: %v", m)
	}
	id := resp.Header.Get("Moat-Run-Id")
	if id == "" {
		t.Fatal("no Moat-Run-Id")
	}
	resp, m = f.do("GET", "/v1/runs/"+id, tokenA, nil)
	if resp.StatusCode != 200 || m["state"] != "done" || m["result"].(map[string]any)["stdout"] != "['a']\nin\n" {
		t.Fatalf("get: %d %v", resp.StatusCode, m)
	}
	// Another token sees no such run; no token, a wrong one: 401.
	if resp, _ := f.do("GET", "/v1/runs/"+id, tokenB, nil); resp.StatusCode != 404 {
		t.Errorf("other token: %d, want 404", resp.StatusCode)
	}
	if resp, _ := f.do("POST", "/v1/runs/"+id+"/cancel", tokenB, nil); resp.StatusCode != 404 {
		t.Errorf("other token cancels: %d, want 404", resp.StatusCode)
	}
	if resp, _ := f.do("GET", "/v1/runs/"+id, tokenB, nil); resp.StatusCode != 404 {
		t.Errorf("other token: %d, want 404", resp.StatusCode)
	}
	for _, tok := range []string{"", "token-a-0123456789abcdeX", tokenA + "x", "x"} {
		if resp, _ := f.do("POST", "/v1/runs?wait=true", tok, map[string]any{"code": "print(1)"}); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("token %q: %d, want 401", tok, resp.StatusCode)
		}
	}
	for _, p := range []string{"/v1/backends", "/v1/metrics", "/v1/runs/" + id + "/stream"} {
		if resp, _ := f.do("GET", p, "", nil); resp.StatusCode != 401 {
			t.Errorf("GET %s without a token: %d, want 401", p, resp.StatusCode)
		}
	}
	// Open: health, readiness, the API document.
	for _, p := range []string{"/v1/health", "/v1/ready", "/v1/openapi.json"} {
		if resp, m := f.do("GET", p, "", nil); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %v", p, resp.StatusCode, m)
		}
	}
}

func TestRequestLimits(t *testing.T) {
	f := newFixture(t, server.Config{Max: moat.Limits{Timeout: 10 * time.Second, Memory: 256 << 20}, MaxBody: 4096})
	cases := map[string]struct {
		body any
		code int
		want string
	}{
		"timeout above max": {map[string]any{"code": "1", "limits": map[string]any{"timeout_ms": 11000}}, 400, "maximum"},
		"memory above max":  {map[string]any{"code": "1", "limits": map[string]any{"memory": 512 << 20}}, 400, "maximum"},
		"negative":          {map[string]any{"code": "1", "limits": map[string]any{"pids": -1}}, 400, "negative"},
		"cpus below quota":  {map[string]any{"code": "1", "limits": map[string]any{"cpus": 0.001}}, 400, "limit cpus 0.001 is outside 0.01.."},
		"allow network":     {map[string]any{"code": "1", "network": "allow=127.0.0.1:22"}, 400, "none or sinkhole"},
		"host env":          {map[string]any{"code": "1", "env": []string{"HOME"}}, 400, "KEY=VALUE"},
		"two programs":      {map[string]any{"code": "1", "module": "x"}, 400, "exactly one"},
		"unknown field":     {map[string]any{"code": "1", "python": "/bin/sh"}, 400, "unknown field"},
		"no isolation":      {map[string]any{"code": "1", "isolation": "venv"}, 400, "does not isolate"},
		"bad file name":     {map[string]any{"script": "../x", "files": map[string]string{"../x": "1"}}, 400, "plain name"},
		"too large":         {map[string]any{"code": strings.Repeat("#", 5000)}, 413, "above 4096"},
		"not json":          {"{", 400, "bad request"},
	}
	for name, c := range cases {
		resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, c.body)
		if resp.StatusCode != c.code || !strings.Contains(fmt.Sprint(m["error"]), c.want) {
			t.Errorf("%s: %d %v, want %d %q", name, resp.StatusCode, m, c.code, c.want)
		}
	}
	// Within the maxima: the run gets them, and the server's maximum is
	// the default where it is below moat's.
	resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(1)", "limits": map[string]any{"timeout_ms": 5000}})
	if resp.StatusCode != 200 || m["status"] != "exited" {
		t.Fatalf("within limits: %d %v", resp.StatusCode, m)
	}
	if !hasLayer(m, "timeout", "5s") || !hasLayer(m, "cgroup", "memory 268435456 bytes") {
		t.Errorf("layers do not show the limits: %v", m["layers"])
	}
}

func hasLayer(m map[string]any, name, detail string) bool {
	ls, _ := m["layers"].([]any)
	for _, l := range ls {
		lm := l.(map[string]any)
		if strings.HasPrefix(fmt.Sprint(lm["name"]), name) && strings.Contains(fmt.Sprint(lm["detail"]), detail) {
			return true
		}
	}
	return false
}

// TestQueueFull: beyond the workers and the queue, 429 with Retry-After;
// canceled runs free their places.
func TestQueueFull(t *testing.T) {
	f := newFixture(t, server.Config{Workers: 1, Queue: 1})
	var ids []string
	for i := range 2 {
		resp, m := f.do("POST", "/v1/runs", tokenA, map[string]any{"code": "import time; time.sleep(60)"})
		if resp.StatusCode != 202 {
			t.Fatalf("run %d: %d %v", i, resp.StatusCode, m)
		}
		ids = append(ids, m["id"].(string))
		if i == 0 {
			waitState(t, f, ids[0], "running")
		}
	}
	resp, m := f.do("POST", "/v1/runs", tokenA, map[string]any{"code": "print(1)"})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third run: %d %v, want 429 with Retry-After", resp.StatusCode, m)
	}
	for _, id := range ids {
		resp, m := f.do("POST", "/v1/runs/"+id+"/cancel?wait=true", tokenA, nil)
		if resp.StatusCode != 202 || m["state"] != "done" || m["result"].(map[string]any)["status"] != "canceled" {
			t.Fatalf("cancel %s: %d %v", id, resp.StatusCode, m)
		}
	}
	resp, m = f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(1)"})
	if resp.StatusCode != 200 || m["stdout"] != "1\n" {
		t.Fatalf("after the queue emptied: %d %v", resp.StatusCode, m)
	}
	noChildren(t)
}

func waitState(t *testing.T, f *fixture, id, state string) map[string]any {
	t.Helper()
	for range 600 {
		_, m := f.do("GET", "/v1/runs/"+id, tokenA, nil)
		if m["state"] == state {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run %s never %s", id, state)
	return nil
}

// TestStream: the output comes as it is printed, then the result.
func TestStream(t *testing.T) {
	f := newFixture(t, server.Config{})
	resp, m := f.do("POST", "/v1/runs", tokenA, map[string]any{"code": "import sys, time\nfor i in range(3):\n    print(i, flush=True); time.sleep(0.2)\nprint('e', file=sys.stderr)"})
	if resp.StatusCode != 202 {
		t.Fatalf("create: %d %v", resp.StatusCode, m)
	}
	id := m["id"].(string)
	req, _ := http.NewRequest("GET", f.ts.URL+"/v1/runs/"+id+"/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tokenA)
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	dec := json.NewDecoder(sresp.Body)
	var out, errOut string
	var last map[string]any
	for dec.More() {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			t.Fatal(err)
		}
		switch line["stream"] {
		case "stdout":
			out += line["data"].(string)
		case "stderr":
			errOut += line["data"].(string)
		default:
			last = line
		}
	}
	if out != "0\n1\n2\n" || errOut != "e\n" {
		t.Errorf("streamed %q %q", out, errOut)
	}
	if last == nil || last["state"] != "done" || last["result"].(map[string]any)["stdout"] != "0\n1\n2\n" {
		t.Errorf("last line: %v", last)
	}
}

// TestClientDisconnect: a client that goes away while it waits cancels
// its run; the sandbox is gone.
func TestClientDisconnect(t *testing.T) {
	f := newFixture(t, server.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	body, _ := json.Marshal(map[string]any{"code": "import time; print('started', flush=True); time.sleep(60)"})
	req, _ := http.NewRequestWithContext(ctx, "POST", f.ts.URL+"/v1/runs?wait=true", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tokenA)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Wait until the program runs (its init is our child), then go away.
	for len(children()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	noChildren(t)
	// The run is counted when its backend has returned (its report made),
	// which may be after its last process is gone: wait for it, bounded.
	want := `moat_runs_total{backend="native",pooled="false",status="canceled"} 1`
	var raw string
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, m := f.do("GET", "/v1/metrics", tokenAdmin, nil)
		if raw = m["raw"].(string); strings.Contains(raw, want) || time.Now().After(end) {
			break
		}
	}
	if !strings.Contains(raw, want) {
		t.Errorf("metrics do not count the canceled run:\n%s", raw)
	}
}

// TestSandboxKilled: a sandbox killed from outside mid-run (its init,
// SIGKILL, once the program has printed) ends its run with a result, not
// a hang, and the server goes on; cold, and from the warm pool.
func TestSandboxKilled(t *testing.T) {
	for _, pooled := range []bool{false, true} {
		t.Run(map[bool]string{false: "cold", true: "pooled"}[pooled], func(t *testing.T) {
			cfg := server.Config{}
			var before []string
			if pooled {
				p, err := pool.New(&native.Backend{}, moat.Spec{}, 1, 1)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Pool = p
				for p.Stats().Ready < 1 {
					time.Sleep(10 * time.Millisecond)
				}
				before = children() // the prepared sandbox the run takes
			}
			f := newFixture(t, cfg)
			resp, m := f.do("POST", "/v1/runs", tokenA, map[string]any{"code": "import time; print('x', flush=True); time.sleep(60)"})
			if resp.StatusCode != 202 {
				t.Fatalf("create: %d %v", resp.StatusCode, m)
			}
			id := m["id"].(string)
			waitOutput(t, f, id, "x\n")
			victims := before
			if !pooled {
				victims = children()
			}
			if len(victims) == 0 {
				t.Fatal("no sandbox to kill")
			}
			for _, v := range victims {
				pid, _ := strconv.Atoi(strings.Fields(v)[0])
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			m = waitState(t, f, id, "done")
			res := m["result"].(map[string]any)
			if res["status"] == "exited" || m["pooled"] != pooled {
				t.Errorf("a killed sandbox: pooled %v, result %v", m["pooled"], res)
			}
			resp, m = f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(2)"})
			if resp.StatusCode != 200 || m["stdout"] != "2\n" {
				t.Fatalf("after the kill: %d %v", resp.StatusCode, m)
			}
		})
	}
}

// waitOutput reads the run's stream until its stdout is want.
func waitOutput(t *testing.T, f *fixture, id, want string) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.ts.URL+"/v1/runs/"+id+"/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tokenA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	out := ""
	for out != want && dec.More() {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			t.Fatal(err)
		}
		if line["stream"] == "stdout" {
			out += line["data"].(string)
		}
	}
	if out != want {
		t.Fatalf("run %s printed %q, want %q", id, out, want)
	}
}

// TestPoolSandboxDies: a prepared sandbox of the pool killed while it
// waits (its init, SIGKILL) is never given a run: the next run still
// gets its own result (cold, or from a sandbox prepared since), the pool
// counts the dead one stale, refills, and nothing of it is left.
func TestPoolSandboxDies(t *testing.T) {
	p, err := pool.New(&native.Backend{}, moat.Spec{}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, server.Config{Pool: p})
	for p.Stats().Ready < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	victims := children()
	if len(victims) == 0 {
		t.Fatal("no prepared sandbox")
	}
	for _, v := range victims {
		pid, _ := strconv.Atoi(strings.Fields(v)[0])
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": fmt.Sprintf("print(%d)", i)})
		if resp.StatusCode != 200 || m["status"] != "exited" || m["stdout"] != fmt.Sprintf("%d\n", i) {
			t.Fatalf("run %d after the prepared sandbox died: %d %v", i, resp.StatusCode, m)
		}
	}
	st := p.Stats()
	if st.Stale < 1 {
		t.Errorf("the dead sandbox was not counted stale: %+v", st)
	}
	for p.Stats().Ready < 1 {
		time.Sleep(10 * time.Millisecond) // refilled
	}
	for _, v := range victims {
		pid, _ := strconv.Atoi(strings.Fields(v)[0])
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("the killed sandbox %s is still there", v)
		}
	}
}

// TestShutdownUnderLoad: Shutdown with runs going and queued cancels them
// after the grace, and leaves no sandbox behind; new runs are refused.
func TestShutdownUnderLoad(t *testing.T) {
	f := newFixture(t, server.Config{Workers: 2, Queue: 8})
	var ids []string
	for range 6 {
		resp, m := f.do("POST", "/v1/runs", tokenA, map[string]any{"code": "import time; time.sleep(60)"})
		if resp.StatusCode != 202 {
			t.Fatalf("create: %d %v", resp.StatusCode, m)
		}
		ids = append(ids, m["id"].(string))
	}
	waitState(t, f, ids[0], "running")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	f.srv.Shutdown(ctx)
	noChildren(t)
	for _, id := range ids {
		_, m := f.do("GET", "/v1/runs/"+id, tokenA, nil)
		if m["state"] != "done" || m["result"].(map[string]any)["status"] != "canceled" {
			t.Errorf("run %s after shutdown: %v", id, m)
		}
	}
	if resp, _ := f.do("POST", "/v1/runs", tokenA, map[string]any{"code": "1"}); resp.StatusCode != 503 {
		t.Errorf("run after shutdown: %d, want 503", resp.StatusCode)
	}
	if resp, _ := f.do("GET", "/v1/ready", "", nil); resp.StatusCode != 503 {
		t.Errorf("ready after shutdown: %d, want 503", resp.StatusCode)
	}
}

// TestPoolThroughAPI: runs go through the warm pool, say so, and the
// metrics count them.
func TestPoolThroughAPI(t *testing.T) {
	moattest.RequireBackend(t, "native")
	p, err := pool.New(&native.Backend{}, moat.Spec{}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, server.Config{Pool: p})
	for p.Stats().Ready < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(1)"})
	if resp.StatusCode != 200 || m["stdout"] != "1\n" || resp.Header.Get("Moat-Pooled") != "true" {
		t.Fatalf("pooled run: %d %v %v", resp.StatusCode, resp.Header, m)
	}
	// Limits the pool was not prepared for: cold, same answer.
	resp, m = f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(1)", "limits": map[string]any{"memory": 128 << 20}})
	if resp.StatusCode != 200 || m["stdout"] != "1\n" || resp.Header.Get("Moat-Pooled") != "" {
		t.Fatalf("cold run: %d %v %v", resp.StatusCode, resp.Header, m)
	}
	_, m = f.do("GET", "/v1/metrics", tokenAdmin, nil)
	for _, want := range []string{`moat_pool_hits_total{backend="native"} 1`, `moat_pool_misses_total{backend="native"} 1`, `moat_pool_size{backend="native"} 2`, "moat_queue_length 0",
		`moat_runs_total{backend="native",pooled="true",status="exited"} 1`, `moat_run_duration_seconds_count{backend="native",pooled="true"} 1`} {
		if !strings.Contains(m["raw"].(string), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestZygoteThroughAPI: with a zygote pool (moat serve --zygote), a run
// with the report and one without go to zygote children, say so in their
// layers (the first with its report's findings list), and the zygote's
// counters count them; a run of other limits goes on to the cold path,
// whole.
func TestZygoteThroughAPI(t *testing.T) {
	moattest.RequireBackend(t, "native")
	if os.Geteuid() != 0 {
		t.Skip("the zygote is tested as root")
	}
	tmpl := moat.Spec{}
	z, err := native.NewZygote(&tmpl)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	zp, err := pool.New(z, tmpl, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, server.Config{ZygotePool: zp})
	for zp.Stats().Ready < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(1)", "no_report": true, "isolation": "native"})
	if resp.StatusCode != 200 || m["stdout"] != "1\n" || resp.Header.Get("Moat-Pooled") != "true" || !strings.Contains(fmt.Sprint(m["layers"]), "zygote") {
		t.Fatalf("zygote run: %d %v %v", resp.StatusCode, resp.Header, m)
	}
	for zp.Stats().Ready < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	resp, m = f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(1)", "isolation": "native"})
	if resp.StatusCode != 200 || m["stdout"] != "1\n" || resp.Header.Get("Moat-Pooled") != "true" || !strings.Contains(fmt.Sprint(m["layers"]), "zygote") ||
		!strings.Contains(fmt.Sprint(m["layers"]), "behaviour-report") || !strings.Contains(fmt.Sprint(m["events"]), "honeytoken-planted") {
		t.Fatalf("run with the report: %d %v %v", resp.StatusCode, resp.Header, m)
	}
	resp, m = f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(1)", "isolation": "native", "limits": map[string]any{"memory": 100 << 20}})
	if resp.StatusCode != 200 || m["stdout"] != "1\n" || resp.Header.Get("Moat-Pooled") != "" || strings.Contains(fmt.Sprint(m["layers"]), "zygote") {
		t.Fatalf("run of other limits: %d %v %v", resp.StatusCode, resp.Header, m)
	}
	_, m = f.do("GET", "/v1/metrics", tokenAdmin, nil)
	for _, want := range []string{"moat_zygote_hits_total 2", "moat_zygote_misses_total 1"} {
		if !strings.Contains(m["raw"].(string), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestFullStateDir: an upload into a full state directory is 507, leaves
// nothing, and the server goes on.
func TestFullStateDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	f := newFixture(t, server.Config{StateDir: dir})
	resp, m := f.do("POST", "/v1/tests?wait=true&filename=big-1.0.tar.gz", tokenA, bytes.Repeat([]byte("x"), 1<<20))
	if resp.StatusCode != 507 || !strings.Contains(fmt.Sprint(m["error"]), "no space left") {
		t.Fatalf("upload into a full disk: %d %v", resp.StatusCode, m)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in the state dir: %v", ents)
	}
	resp, m = f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(1)"})
	if resp.StatusCode != 200 || m["stdout"] != "1\n" {
		t.Fatalf("after the full disk: %d %v", resp.StatusCode, m)
	}
}

// TestPackageUpload: `moat test` of an uploaded sdist, as a run.
func TestPackageUpload(t *testing.T) {
	f := newFixture(t, server.Config{StateDir: t.TempDir()})
	sdist := moattest.Sdist(t, "../pkgtest/testdata/projects/calc", "calc-0.1")
	resp, m := f.do("POST", "/v1/tests?wait=true&filename=calc-0.1.tar.gz", tokenA, sdist)
	if resp.StatusCode != 200 {
		t.Fatalf("test: %d %v", resp.StatusCode, m)
	}
	if m["status"] != "passed" || m["target"] != "calc-0.1.tar.gz" {
		b, _ := json.MarshalIndent(m, "", " ")
		t.Fatalf("report: %s", b)
	}
	if resp, m := f.do("POST", "/v1/tests?filename=../x.tar.gz", tokenA, sdist); resp.StatusCode != 400 {
		t.Errorf("bad file name: %d %v", resp.StatusCode, m)
	}
	// A name the server cannot test is refused by its name, as the
	// OpenAPI pattern says (a .zip was taken, then refused with the
	// CLI's words about --requirements).
	if resp, m := f.do("POST", "/v1/tests?filename=calc-0.1.zip", tokenA, sdist); resp.StatusCode != 400 || !strings.Contains(fmt.Sprint(m["error"]), "filename") {
		t.Errorf("a .zip upload: %d %v, want 400 on its filename", resp.StatusCode, m)
	}
	// Hostile archives: each refused on the host, before any sandbox,
	// with one line naming the entry (escaped), nothing left behind.
	for _, c := range []struct {
		name string
		hdr  tar.Header
		want string
	}{
		{"dotdot", tar.Header{Name: "calc-0.1/../../evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}, "path traversal"},
		{"symlink", tar.Header{Name: "calc-0.1/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd", Mode: 0o777}, "points outside"},
		{"hardlink", tar.Header{Name: "calc-0.1/hard", Typeflag: tar.TypeLink, Linkname: "/etc/shadow"}, "points outside"},
		{"device", tar.Header{Name: "calc-0.1/mem", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 1, Mode: 0o666}, "device"},
		{"bomb", tar.Header{Name: "calc-0.1/zeros", Typeflag: tar.TypeReg, Size: 300 << 20, Mode: 0o644}, "expands"},
		{"control", tar.Header{Name: "calc-0.1/\x1b[2J\nx", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}, "control character"},
	} {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		tw := tar.NewWriter(zw)
		for _, h := range []tar.Header{{Name: "calc-0.1/setup.py", Typeflag: tar.TypeReg, Size: 2, Mode: 0o644}, c.hdr} {
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				if _, err := io.CopyN(tw, zeros{}, h.Size); err != nil {
					t.Fatal(err)
				}
			}
		}
		tw.Close()
		zw.Close()
		resp, m := f.do("POST", "/v1/tests?wait=true&filename=calc-0.1.tar.gz", tokenA, buf.Bytes())
		msg := fmt.Sprint(m["error"])
		if resp.StatusCode != 400 || !strings.Contains(msg, c.want) || strings.ContainsAny(msg, "\x1b\n") {
			t.Errorf("%s: %d %q, want 400 naming %q in one escaped line", c.name, resp.StatusCode, msg, c.want)
		}
	}
	if ents, _ := os.ReadDir(f.srv.StateDir()); len(ents) != 0 {
		t.Errorf("left in the state dir: %v", ents)
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

var (
	_ = exec.Command
	_ sync.Mutex
)

// TestOpenAPI: the document is valid JSON and names every route.
func TestOpenAPI(t *testing.T) {
	f := newFixture(t, server.Config{})
	resp, m := f.do("GET", "/v1/openapi.json", "", nil)
	if resp.StatusCode != 200 || m["openapi"] != "3.1.0" {
		t.Fatalf("openapi: %d %v", resp.StatusCode, m["raw"])
	}
	paths := m["paths"].(map[string]any)
	for _, p := range []string{"/v1/runs", "/v1/runs/{id}", "/v1/runs/{id}/cancel", "/v1/runs/{id}/stream", "/v1/tests", "/v1/backends",
		"/v1/metrics", "/v1/mcp", "/v1/health", "/v1/ready", "/v1/openapi.json"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// TestWaitBeyondReadTimeout: a client that waits for a run longer than the
// connection's read timeout still gets its result (the deadline that
// bounds a slow request must not cancel a run that is going).
func TestWaitBeyondReadTimeout(t *testing.T) {
	f := newFixture(t, server.Config{})
	hs := server.NewHTTPServer(f.srv.Handler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	hs.ReadTimeout, hs.WriteTimeout = time.Second, time.Second
	ts := httptest.NewUnstartedServer(f.srv.Handler())
	ts.Config = hs
	ts.Start()
	defer ts.Close()
	req, _ := http.NewRequest("POST", ts.URL+"/v1/runs?wait=true", strings.NewReader(`{"code":"import time; time.sleep(3); print('late')"}`))
	req.Header.Set("Authorization", "Bearer "+tokenA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode != 200 || m["status"] != "exited" || m["stdout"] != "late\n" {
		t.Fatalf("a run longer than the read timeout: %d %v", resp.StatusCode, m)
	}
}

// TestKeepBytes: finished runs are forgotten, oldest first, once their
// output passes the server's budget.
func TestKeepBytes(t *testing.T) {
	f := newFixture(t, server.Config{KeepBytes: 3 << 20})
	var ids []string
	for range 3 {
		resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print('x' * (1 << 20))"})
		if resp.StatusCode != 200 || m["status"] != "exited" {
			t.Fatalf("run: %d %v", resp.StatusCode, m["status"])
		}
		ids = append(ids, resp.Header.Get("Moat-Run-Id"))
	}
	if resp, _ := f.do("GET", "/v1/runs/"+ids[0], tokenA, nil); resp.StatusCode != 404 {
		t.Errorf("the oldest run is still kept past the budget: %d", resp.StatusCode)
	}
	if resp, _ := f.do("GET", "/v1/runs/"+ids[2], tokenA, nil); resp.StatusCode != 200 {
		t.Errorf("the newest run is gone: %d", resp.StatusCode)
	}
}

// testWriter writes log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestUploadsBounded: uploads being received count against the queue
// before their test is queued: without that, any number of clients could
// each hold an upload of MaxUpload bytes on the state directory's disk
// (and an archive check on the CPU) at once, past the 429.
func TestUploadsBounded(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, server.Config{Workers: 1, Queue: 1, StateDir: dir})
	pr, pw := io.Pipe()
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", f.ts.URL+"/v1/tests?filename=slow-1.0.tar.gz", pr)
		req.Header.Set("Authorization", "Bearer "+tokenA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	if _, err := pw.Write(bytes.Repeat([]byte("x"), 4096)); err != nil {
		t.Fatal(err)
	}
	// The first upload is being received once its file is there.
	for got := false; !got; {
		m, _ := filepath.Glob(filepath.Join(dir, "upload-*", "slow-1.0.tar.gz"))
		if got = len(m) > 0; !got {
			time.Sleep(10 * time.Millisecond)
		}
	}
	resp, m := f.do("POST", "/v1/tests?filename=other-1.0.tar.gz", tokenB, []byte("not an sdist"))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a second upload while the first is received (queue 1): %d %v, want 429", resp.StatusCode, m)
	}
	pw.Close()
	if code := <-first; code != 400 {
		t.Errorf("the first upload (not an sdist): %d, want 400", code)
	}
	resp, m = f.do("POST", "/v1/tests?filename=other-1.0.tar.gz", tokenB, []byte("not an sdist"))
	if resp.StatusCode != 400 {
		t.Errorf("an upload after the first ended: %d %v, want 400", resp.StatusCode, m)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in the state dir: %v", ents)
	}
}

// TestStreamSmallWrites: a program that writes its output a byte at a
// time is kept as its bytes, not as a chunk a write (each of which cost
// the server some fifty bytes beyond the byte: 3 MB of output held 200 MB
// of the server's memory); the stream still sends every byte, in order.
func TestStreamSmallWrites(t *testing.T) {
	f := newFixture(t, server.Config{})
	const n = 100000
	resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": fmt.Sprintf("import os\nfor i in range(%d):\n    os.write(1, b'%%d' %% (i %% 10))\nos.write(2, b'e')\nos.write(1, b'!')", n)})
	if resp.StatusCode != 200 || m["status"] != "exited" {
		t.Fatalf("run: %d %v", resp.StatusCode, m)
	}
	id := resp.Header.Get("Moat-Run-Id")
	resp, m = f.do("GET", "/v1/runs/"+id+"/stream", tokenA, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d %v", resp.StatusCode, m)
	}
	raw := m["raw"].(string)
	var want strings.Builder
	for i := range n {
		want.WriteByte(byte('0' + i%10))
	}
	var out string
	lines := strings.Split(strings.TrimSpace(raw), "\n")
	for _, l := range lines {
		var c map[string]any
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("stream line %q: %v", l, err)
		}
		if c["stream"] == "stdout" {
			out += c["data"].(string)
		}
	}
	if out != want.String()+"!" {
		t.Errorf("streamed %d bytes of stdout, want %d", len(out), n+1)
	}
	// stdout (in chunks of at most 32 KiB), stderr, stdout, the end.
	if len(lines) > 8 {
		t.Errorf("the finished run streams as %d lines, want at most 8 (its output is kept as %d writes, not as its bytes)", len(lines), len(lines)-1)
	}
}

// TestStalledReader: a client that stops reading a stream (or a waiting
// response) is dropped after the server's WriteStall; it held the
// response, and the copies of the run's output it was being sent, for
// ever (eight such streams of a run's 12 MiB held a gigabyte).
func TestStalledReader(t *testing.T) {
	f := newFixture(t, server.Config{WriteStall: 300 * time.Millisecond})
	// 8 MiB of control characters: 48 MiB as JSON, beyond any socket's
	// buffers.
	resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "import os\nos.write(1, b'\\x01' * (8 << 20))"})
	if resp.StatusCode != 200 || m["status"] != "exited" {
		t.Fatalf("run: %d %v", resp.StatusCode, m["status"])
	}
	id := resp.Header.Get("Moat-Run-Id")
	c, err := net.Dial("tcp", f.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /v1/runs/%s/stream HTTP/1.1\r\nHost: moat\r\nAuthorization: Bearer %s\r\n\r\n", id, tokenA)
	time.Sleep(5 * time.Second) // the stall: far beyond WriteStall
	b, _ := io.ReadAll(c)
	if bytes.Contains(b, []byte(`"state":"done"`)) {
		t.Errorf("a client that stopped reading got the whole stream (%d bytes): the server waited for it", len(b))
	}
}

// TestMetricsAdminOnly: the metrics count every token's runs (and the
// pool's hits), so a run token may not read them, nor may anyone read
// the counters on the open /v1/ready; the admin tokens may, and may do
// nothing else. Before, any token read how many runs the others made,
// how they ended and how long they took.
func TestMetricsAdminOnly(t *testing.T) {
	moattest.RequireBackend(t, "native")
	p, err := pool.New(&native.Backend{}, moat.Spec{}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, server.Config{Pool: p})
	if resp, m := f.do("POST", "/v1/runs?wait=true", tokenB, map[string]any{"code": "print(1)"}); resp.StatusCode != 200 {
		t.Fatalf("run: %d %v", resp.StatusCode, m)
	}
	for _, tok := range []string{tokenA, tokenB} {
		resp, m := f.do("GET", "/v1/metrics", tok, nil)
		if resp.StatusCode != 403 || strings.Contains(fmt.Sprint(m), "moat_runs_total") {
			t.Errorf("a run token read the metrics: %d %.200v", resp.StatusCode, m)
		}
		if !strings.Contains(fmt.Sprint(m["error"]), "--admin-token-file") {
			t.Errorf("the refusal does not say who may: %v", m)
		}
	}
	if resp, _ := f.do("GET", "/v1/metrics", "", nil); resp.StatusCode != 401 {
		t.Errorf("no token: %d, want 401", resp.StatusCode)
	}
	resp, m := f.do("GET", "/v1/metrics", tokenAdmin, nil)
	if resp.StatusCode != 200 || !strings.Contains(m["raw"].(string), "moat_runs_total{") {
		t.Errorf("the admin token: %d %.300v", resp.StatusCode, m)
	}
	if resp, _ := f.do("POST", "/v1/runs?wait=true", tokenAdmin, map[string]any{"code": "print(1)"}); resp.StatusCode != 401 {
		t.Errorf("the admin token made a run: %d, want 401", resp.StatusCode)
	}
	_, m = f.do("GET", "/v1/ready", "", nil)
	pm, _ := m["pool"].(map[string]any)
	if pm == nil || pm["Size"] != 1.0 {
		t.Errorf("ready: no pool size: %v", m)
	}
	for _, k := range []string{"Hits", "Misses", "Stale", "Failures"} {
		if _, ok := pm[k]; ok {
			t.Errorf("the open /v1/ready shows the pool's %s: %v", k, m)
		}
	}
}

// TestTrickleReader: a client that reads a stream, but slowly, is
// dropped once the time the server waited for it exceeds the write
// stall plus what it was sent at MinReadRate. Each piece went out within
// the stall, so before, a client reading 512 KiB/s held the response,
// its copy of the run's output (96 MiB as JSON, with the result) and a
// connection for three minutes, and a slower one, fast enough for the
// stall (the kernel wakes a writer once half of its socket buffer is
// free), for as long as its output lasts. What is seen is the server
// closing the connection (its ConnState) while the client has read a
// fraction of the stream: the kernel's buffers hold what was sent before.
func TestTrickleReader(t *testing.T) {
	f := newFixture(t, server.Config{WriteStall: 10 * time.Second, MinReadRate: 1 << 20})
	closed := make(chan struct{})
	var once sync.Once
	var client atomic.Value // the trickle reader's address
	client.Store("")
	hs := server.NewHTTPServer(f.srv.Handler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	hs.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateClosed && c.RemoteAddr().String() == client.Load().(string) {
			once.Do(func() { close(closed) })
		}
	}
	ts := httptest.NewUnstartedServer(f.srv.Handler())
	ts.Config = hs
	ts.Start()
	defer ts.Close()
	// 8 MiB of control characters: 48 MiB as JSON, far beyond any
	// socket's buffers.
	resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "import os\nos.write(1, b'\\x01' * (8 << 20))"})
	if resp.StatusCode != 200 || m["status"] != "exited" {
		t.Fatalf("run: %d %v", resp.StatusCode, m["status"])
	}
	id := resp.Header.Get("Moat-Run-Id")
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client.Store(c.LocalAddr().String())
	fmt.Fprintf(c, "GET /v1/runs/%s/stream HTTP/1.1\r\nHost: moat\r\nAuthorization: Bearer %s\r\n\r\n", id, tokenA)
	// 512 KiB/s, for at most two minutes (three are needed for it all).
	buf := make([]byte, 32<<10)
	read := 0
	for range 1920 {
		select {
		case <-closed:
			if read > 24<<20 {
				t.Errorf("the server closed the stream of a client reading 512 KiB/s only after it read %d bytes: it waited for it all along", read)
			}
			return // dropped
		default:
		}
		k, err := io.ReadFull(c, buf)
		read += k
		if err != nil {
			t.Fatalf("the stream ended for the client before the server closed it: %v", err)
		}
		time.Sleep(62500 * time.Microsecond)
	}
	t.Errorf("the server still sent to a client reading 512 KiB/s after %d bytes (2 minutes): it waits for it all along", read)
}

// TestMCPBodyLimit: an MCP request over the server's MCP limit (the SDK's
// 4 MiB, explicit in Config.MaxMCPBody) is refused with a 413 that says
// the limit and where larger packages go; one under it gets through.
// Before, the limit was the SDK's, implicit, and its 413 said neither
// that a package counts 4/3 in base64 nor where larger ones go.
func TestMCPBodyLimit(t *testing.T) {
	f := newFixture(t, server.Config{StateDir: t.TempDir()})
	big := map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": map[string]any{"name": "test_package",
		"arguments": map[string]any{"filename": "x-1.0.tar.gz", "content_base64": strings.Repeat("A", server.DefaultMaxMCPBody)}}}
	for _, chunked := range []bool{false, true} {
		j, _ := json.Marshal(big)
		var body io.Reader = bytes.NewReader(j)
		if chunked {
			body = io.MultiReader(bytes.NewReader(j)) // no length: sent chunked
		}
		req, _ := http.NewRequest("POST", f.ts.URL+"/v1/mcp", body)
		req.Header.Set("Authorization", "Bearer "+tokenA)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !strings.Contains(string(raw), fmt.Sprintf("over %d bytes", server.DefaultMaxMCPBody)) || !strings.Contains(string(raw), "/v1/tests") {
			t.Errorf("chunked %v: %d %.300s, want 413 naming the limit", chunked, resp.StatusCode, raw)
		}
	}
	// Under the limit: the SDK answers (initialize).
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	req, _ := http.NewRequest("POST", f.ts.URL+"/v1/mcp", strings.NewReader(init))
	req.Header.Set("Authorization", "Bearer "+tokenA)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"serverInfo"`) {
		t.Errorf("initialize: %d %.300s", resp.StatusCode, raw)
	}
}

// TestOwnerShare: one token's flood takes at most three quarters of the
// queue, and past the budgets of kept results it forgets its own oldest
// results first: another token still gets a place and keeps its result.
func TestOwnerShare(t *testing.T) {
	f := newFixture(t, server.Config{Workers: 1, Queue: 4, Keep: 3})
	resp, m := f.do("POST", "/v1/runs?wait=true", tokenB, map[string]any{"code": "print('b')"})
	if resp.StatusCode != 200 || m["stdout"] != "b\n" {
		t.Fatalf("B's run: %d %v", resp.StatusCode, m)
	}
	bRun := resp.Header.Get("Moat-Run-Id")
	var aRuns []string
	for i := range 4 {
		resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print('a')"})
		if resp.StatusCode != 200 {
			t.Fatalf("A's run %d: %d %v", i, resp.StatusCode, m)
		}
		aRuns = append(aRuns, resp.Header.Get("Moat-Run-Id"))
	}
	if resp, _ := f.do("GET", "/v1/runs/"+bRun, tokenB, nil); resp.StatusCode != 200 {
		t.Errorf("B's only result was forgotten for A's flood: %d", resp.StatusCode)
	}
	if resp, _ := f.do("GET", "/v1/runs/"+aRuns[0], tokenA, nil); resp.StatusCode != 404 {
		t.Errorf("A's oldest result is kept past Keep while B's is too: %d", resp.StatusCode)
	}

	var held []string
	for i := range 4 { // one running, three waiting: A's share of 4
		resp, m := f.do("POST", "/v1/runs", tokenA, map[string]any{"code": "import time; time.sleep(60)"})
		if resp.StatusCode != 202 {
			t.Fatalf("A's slow run %d: %d %v", i, resp.StatusCode, m)
		}
		held = append(held, m["id"].(string))
		if i == 0 {
			waitState(t, f, held[0], "running")
		}
	}
	resp, m = f.do("POST", "/v1/runs", tokenA, map[string]any{"code": "print(1)"})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("A past its share of the queue: %d %v, want 429", resp.StatusCode, m)
	}
	resp, m = f.do("POST", "/v1/runs", tokenB, map[string]any{"code": "print(1)"})
	if resp.StatusCode != 202 {
		t.Errorf("B while A holds its share: %d %v, want 202", resp.StatusCode, m)
	} else {
		held = append(held, m["id"].(string))
	}
	for i, id := range held {
		tok := tokenA
		if i == 4 {
			tok = tokenB
		}
		if resp, m := f.do("POST", "/v1/runs/"+id+"/cancel?wait=true", tok, nil); resp.StatusCode != 202 {
			t.Errorf("cancel %s: %d %v", id, resp.StatusCode, m)
		}
	}
	noChildren(t)
}
