//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/moattest"
)

// serveProc is a `moat serve` started by a test.
type serveProc struct {
	cmd    *exec.Cmd
	sock   string
	addr   string // TCP, when listening
	token  string
	stderr *bytes.Buffer
	hc     *http.Client
}

// startServe starts moat serve on a socket in a temporary directory (and
// on a loopback port if tcp), with a warm pool of native sandboxes.
func startServe(t *testing.T, tcp bool, extra ...string) *serveProc {
	t.Helper()
	requireNative(t)
	dir := t.TempDir()
	p := &serveProc{sock: filepath.Join(dir, "s.sock"), stderr: &bytes.Buffer{}}
	listen := ""
	if tcp {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p.addr = l.Addr().String()
		l.Close()
		listen = p.addr
		p.token = "serve-test-token-0123456789"
		if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte(p.token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		extra = append(extra, "--token-file", filepath.Join(dir, "tokens"))
	}
	args := append([]string{"serve", "--listen", listen, "--socket", p.sock, "--state-dir", filepath.Join(dir, "state"),
		"--isolation", "native", "--pool", "2", "--workers", "4"}, extra...)
	p.cmd = exec.Command(moatBin, args...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_ = p.cmd.Wait()
		}
	})
	p.hc = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", p.sock)
	}}}
	for i := 0; ; i++ {
		resp, err := p.hc.Get("http://moat/v1/ready")
		if err == nil {
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if pool, ok := m["pool"].(map[string]any); ok && pool["Ready"].(float64) >= 1 {
				break
			}
		}
		if i > 1200 {
			t.Fatalf("moat serve not ready: %v\n%s", err, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

func (p *serveProc) post(t *testing.T, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := p.hc.Post("http://moat"+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	m["http_status"] = resp.StatusCode
	return m
}

// TestServeSIGTERMUnderLoad: SIGTERM with runs going and queued: moat
// serve cancels them after the grace, exits 0, removes its socket, and no
// sandbox (running or prepared) is left.
func TestServeSIGTERMUnderLoad(t *testing.T) {
	p := startServe(t, false, "--grace", "1s")
	for range 6 {
		if m := p.post(t, "/v1/runs", map[string]any{"code": "import time; time.sleep(120)"}); m["http_status"] != 202 {
			t.Fatalf("create: %v", m)
		}
	}
	var inits []int
	for inits = moattest.ChildrenOf(p.cmd.Process.Pid); len(inits) < 6; inits = moattest.ChildrenOf(p.cmd.Process.Pid) {
		time.Sleep(50 * time.Millisecond) // 4 running, 2 prepared
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("moat serve after SIGTERM: %v\n%s", err, p.stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("moat serve did not exit after SIGTERM\n%s", p.stderr)
	}
	for _, pid := range inits {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("sandbox init %d is still there", pid)
		}
	}
	if _, err := os.Lstat(p.sock); err == nil {
		t.Errorf("socket %s left", p.sock)
	}
	if !strings.Contains(p.stderr.String(), `"status":"canceled"`) {
		t.Errorf("no run was logged canceled:\n%s", p.stderr)
	}
}

// TestRunUsesLocalServer: moat run hands its run to the server on the
// socket, which runs it in its warm pool, and says so; MOAT_NO_SERVER
// runs it here.
func TestRunUsesLocalServer(t *testing.T) {
	p := startServe(t, false)
	run := func(env ...string) (string, string, int) {
		cmd := exec.Command(moatBin, "run", "--isolation", "native", "-c", "import sys; print(sys.stdin.read() + 'x'); sys.exit(4)")
		cmd.Env = append(os.Environ(), append([]string{"MOAT_SOCKET=" + p.sock}, env...)...)
		cmd.Stdin = strings.NewReader("in-")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return out.String(), errb.String(), code
	}
	out, errOut, code := run()
	if out != "in-x\n" || code != 4 || !strings.Contains(errOut, "run by the local server at "+p.sock+" (warm pool)") {
		t.Fatalf("through the server: %q %q exit %d", out, errOut, code)
	}
	out, errOut, code = run("MOAT_NO_SERVER=1")
	if out != "in-x\n" || code != 4 || strings.Contains(errOut, "local server") {
		t.Fatalf("MOAT_NO_SERVER: %q %q exit %d", out, errOut, code)
	}
}

// TestMCPClient drives `moat mcp` (stdio) and moat serve's /v1/mcp with
// the TypeScript SDK's client (server/testdata/mcp-client; CI installs it
// with .ci/setup-serve.sh).
func TestMCPClient(t *testing.T) {
	requireNative(t)
	dir, _ := filepath.Abs("../../server/testdata/mcp-client")
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk"))
	}
	if err != nil {
		if moattest.Required("mcp-client") {
			t.Fatalf("the MCP client is required (MOAT_REQUIRE_BACKENDS has mcp-client) but missing: %v (run .ci/setup-serve.sh)", err)
		}
		t.Skipf("no node or no @modelcontextprotocol/sdk in %s (run .ci/setup-serve.sh): %v", dir, err)
	}
	sdist := filepath.Join(t.TempDir(), "calc-0.1.tar.gz")
	if err := os.WriteFile(sdist, moattest.Sdist(t, "../../pkgtest/testdata/projects/calc", "calc-0.1"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, args ...string) {
		cmd := exec.Command(node, append([]string{filepath.Join(dir, "client.mjs")}, args...)...)
		cmd.Env = append(os.Environ(), "MOAT_TEST_SDIST="+sdist)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node client: %v\n%s", err, errb.String())
		}
		var got struct {
			Tools []string
			Run   struct {
				IsError    bool
				Text       string
				Structured struct {
					Result struct {
						Status   string `json:"status"`
						Stdout   string `json:"stdout"`
						ExitCode int    `json:"exit_code"`
					} `json:"result"`
				}
			}
			Exit3 struct {
				IsError  bool
				Status   string
				ExitCode int `json:"exit_code"`
			}
			Refused struct {
				IsError bool
				Text    string
			}
			Test struct {
				IsError bool
				Status  string
				Text    string
			}
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("client output %q: %v", out, err)
		}
		if strings.Join(got.Tools, ",") != "run_python,test_package" {
			t.Errorf("tools: %v", got.Tools)
		}
		if got.Run.IsError || got.Run.Structured.Result.Stdout != "42\nfrom stdin\n" || !strings.Contains(got.Run.Text, "42") {
			t.Errorf("run_python: %+v", got.Run)
		}
		if got.Exit3.IsError || got.Exit3.Status != "exited" || got.Exit3.ExitCode != 3 {
			t.Errorf("run_python exit 3: %+v", got.Exit3)
		}
		if !got.Refused.IsError || !strings.Contains(got.Refused.Text, "none or sinkhole") {
			t.Errorf("an allow network was not refused: %+v", got.Refused)
		}
		if got.Test.IsError || got.Test.Status != "passed" {
			t.Errorf("test_package: %+v", got.Test)
		}
	}
	t.Run("stdio", func(t *testing.T) {
		check(t, "stdio", moatBin, "mcp", "--isolation", "native", "--pool", "1")
	})
	t.Run("http", func(t *testing.T) {
		p := startServe(t, true)
		check(t, "http", "http://"+p.addr+"/v1/mcp", p.token)
		// Without the token: refused.
		resp, err := http.Post("http://"+p.addr+"/v1/mcp", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("/v1/mcp without a token: %d", resp.StatusCode)
		}
	})
}

// TestServeStateDirOwner: a state directory that others may write to, or
// another user's, is refused: the generated token and the uploads live
// there (another user could have put a token of theirs in it).
func TestServeStateDirOwner(t *testing.T) {
	loose := t.TempDir()
	if err := os.Chmod(loose, 0o777); err != nil {
		t.Fatal(err)
	}
	r := moatRun(t, nil, "serve", "--listen", "127.0.0.1:0", "--socket", "", "--pool", "0", "--state-dir", loose)
	if r.code != exitFailure {
		t.Fatalf("world-writable state dir: %v", r)
	}
	wantOneLine(t, r.stderr, "may be written by others")
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the directory to another user")
	}
	theirs := t.TempDir()
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	r = moatRun(t, nil, "serve", "--listen", "127.0.0.1:0", "--socket", "", "--pool", "0", "--state-dir", theirs)
	if r.code != exitFailure {
		t.Fatalf("another user's state dir: %v", r)
	}
	wantOneLine(t, r.stderr, "belongs to uid 65534")
}

// TestServeNegativeSizes: a negative pool, zygote, worker or queue size
// is refused in one line before the server starts (it was taken as 0).
func TestServeNegativeSizes(t *testing.T) {
	for _, fl := range []string{"--pool", "--zygote", "--workers", "--queue"} {
		r := moatRun(t, nil, "serve", "--listen", "127.0.0.1:0", "--socket", "", "--state-dir", t.TempDir(), fl, "-1")
		if r.code != exitFailure {
			t.Fatalf("%s -1: %v", fl, r)
		}
		wantOneLine(t, r.stderr, fl+": -1 is negative")
	}
}

// TestServeZygote: `moat serve --zygote 2` serves a run with the report
// and one without from zygote children (the first with its report: the
// planted honeytokens), one that fits no child elsewhere, and on SIGTERM
// leaves no sandbox, zygote or child behind.
func TestServeZygote(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the zygote is tested as root")
	}
	p := startServe(t, false, "--zygote", "2")
	for i := 0; ; i++ {
		resp, err := p.hc.Get("http://moat/v1/ready")
		if err == nil {
			var m map[string]map[string]float64
			_ = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if m["zygote"]["Ready"] >= 1 {
				break
			}
		}
		if i > 1200 {
			t.Fatalf("no zygote child ready: %v\n%s", err, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := p.post(t, "/v1/runs?wait=true", map[string]any{"code": "print(6*7)", "no_report": true})
	if m["stdout"] != "42\n" || !strings.Contains(fmt.Sprint(m["layers"]), "zygote") {
		t.Fatalf("run without the report: %v", m)
	}
	m = p.post(t, "/v1/runs?wait=true", map[string]any{"code": "print(6*7)"})
	if m["stdout"] != "42\n" || !strings.Contains(fmt.Sprint(m["layers"]), "zygote") || !strings.Contains(fmt.Sprint(m["events"]), "honeytoken-planted") {
		t.Fatalf("run with the report: %v", m)
	}
	m = p.post(t, "/v1/runs?wait=true", map[string]any{"code": "print(6*7)", "limits": map[string]any{"memory": 100 << 20}})
	if m["stdout"] != "42\n" || strings.Contains(fmt.Sprint(m["layers"]), "zygote") {
		t.Fatalf("run that fits no child: %v", m)
	}
	children := moattest.ChildrenOf(p.cmd.Process.Pid)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("moat serve after SIGTERM: %v\n%s", err, p.stderr)
	}
	for _, pid := range children {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("process %d of the server is still there", pid)
		}
	}
}

// TestMCPStdio: a line on stdin that is not JSON is dropped with one line
// on stderr; the session goes on and answers the calls before and after it
// (the SDK alone ended the session, exit 125, and lost them), and stdin's
// end waits for the answers (`moat mcp < requests` got none).
func TestMCPStdio(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, moatBin, "mcp", "--isolation", "native", "--pool", "0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	io.WriteString(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`+"\n"+
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"+
		"not json\x1b[2J\n"+
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`+"\n"+
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"run_python","arguments":{"code":"print(6*7)"}}}`+"\n")
	stdin.Close()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := map[float64]bool{}
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			if id, ok := m["id"].(float64); ok && m["result"] != nil {
				seen[id] = true
			}
		}
	}
	if !seen[1] || !seen[2] || !seen[3] {
		t.Fatalf("answers %v, want ids 1, 2 and 3; stderr: %s", seen, errb.String())
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("moat mcp after stdin closed: %v; stderr: %s", err, errb.String())
	}
	wantOneLine(t, errb.String(), "mcp: ignored a line of stdin that is not JSON")
}
