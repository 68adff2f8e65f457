package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/lazyre"
	"github.com/moat-sandbox/moat/moattest"
)

// moatBin is the moat binary built once for every test of the CLI.
var moatBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "moat-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		moatBin = filepath.Join(dir, "moat")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			goTool = "go"
		}
		build := exec.Command(goTool, "build", "-o", moatBin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// requireNative skips tests that run a program when the native backend
// cannot run here (or fails them when CI requires it).
func requireNative(t *testing.T) {
	t.Helper()
	moattest.RequireBackend(t, "native")
}

// result is what one invocation of moat did.
type result struct {
	code           int
	stdout, stderr string
}

// moatCmd returns a command running moat with args and the test's
// environment (PATH finds python3) plus env.
func moatCmd(ctx context.Context, env []string, args ...string) *exec.Cmd {
	args = pinNative(args)
	cmd := exec.CommandContext(ctx, moatBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader("")
	return cmd
}

// pinNative adds --isolation native to a run or test that names no
// backend: these are the CLI's tests on the native backend, and auto picks
// a stronger one (gvisor) where one is installed.
func pinNative(args []string) []string {
	if len(args) == 0 || (args[0] != "run" && args[0] != "test") || slices.Contains(args, "--isolation") {
		return args
	}
	return append([]string{args[0], "--isolation", "native"}, args[1:]...)
}

// moatRun runs moat to completion within a bound that detects hangs.
func moatRun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := moatCmd(ctx, env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		r.code = ee.ExitCode()
	default:
		t.Fatalf("moat %q: %v\nstderr: %s", args, err, r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Errorf("moat %q printed a Go panic or stack trace:\n%s", args, r.stderr)
	}
	return r
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %q\nstderr: %q", r.code, r.stdout, r.stderr)
}

func writeFile(t *testing.T, p, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunScriptArgs(t *testing.T) {
	requireNative(t)
	t.Parallel()
	script := writeFile(t, filepath.Join(t.TempDir(), "hello.py"), "import sys, json\nprint(json.dumps(sys.argv[1:]))\nsys.exit(7)\n")
	r := moatRun(t, nil, "run", script, "a b", "--not-a-moat-flag", "-c")
	if r.code != 7 {
		t.Fatalf("want the program's exit 7: %s", r)
	}
	if r.stdout != `["a b", "--not-a-moat-flag", "-c"]`+"\n" {
		t.Errorf("arguments after the script reached the program as %q", r.stdout)
	}
}

func TestRunCode(t *testing.T) {
	requireNative(t)
	t.Parallel()
	r := moatRun(t, nil, "run", "-c", "import sys; print('hi', sys.argv[1:]); sys.stderr.write('to-err')", "x", "y")
	if r.code != 0 || r.stdout != "hi ['x', 'y']\n" || r.stderr != "to-err" {
		t.Errorf("unexpected: %s", r)
	}
}

func TestRunModule(t *testing.T) {
	requireNative(t)
	t.Parallel()
	ws := t.TempDir()
	writeFile(t, filepath.Join(ws, "pkg", "__init__.py"), "")
	writeFile(t, filepath.Join(ws, "pkg", "tool.py"), "import sys\nprint('module', __name__, sys.argv[1:])\n")
	r := moatRun(t, nil, "run", "--workspace", ws, "-m", "pkg.tool", "arg")
	if r.code != 0 || r.stdout != "module __main__ ['arg']\n" {
		t.Errorf("unexpected: %s", r)
	}
}

func TestRunScriptInWorkspace(t *testing.T) {
	requireNative(t)
	t.Parallel()
	ws := t.TempDir()
	writeFile(t, filepath.Join(ws, "lib.py"), "X = 42\n")
	script := writeFile(t, filepath.Join(ws, "sub", "main.py"), "import sys, os\nsys.path.insert(0, '.')\nimport lib\nprint(lib.X, open('lib.py').read().strip())\n")
	r := moatRun(t, nil, "run", "--workspace", ws, script)
	if r.code != 0 || r.stdout != "42 X = 42\n" {
		t.Errorf("unexpected: %s", r)
	}
}

func TestExitTimeout(t *testing.T) {
	requireNative(t)
	t.Parallel()
	start := time.Now()
	r := moatRun(t, nil, "run", "--timeout", "1s", "-c", "import time; time.sleep(30)")
	if r.code != exitTimeout {
		t.Errorf("want %d: %s", exitTimeout, r)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("a 1s timeout took %s", d)
	}
	if !strings.Contains(r.stderr, "moat: timeout") {
		t.Errorf("stderr does not explain the timeout: %q", r.stderr)
	}
}

// TestUsageErrors: each mistake of the caller exits 125 with exactly one
// line on stderr, starting "moat: ", and never a stack trace.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	nonEmpty := filepath.Join(dir, "nonempty")
	writeFile(t, filepath.Join(nonEmpty, "x"), "x")
	aFile := writeFile(t, filepath.Join(dir, "afile"), "x")
	badSyntax := writeFile(t, filepath.Join(dir, "syntax.toml"), "timeout = \"1s\nmemory = [\n")
	unknownKey := writeFile(t, filepath.Join(dir, "unknown.toml"), "timeout = \"1s\"\nmemroy = \"1GiB\"\n")
	badValue := writeFile(t, filepath.Join(dir, "badvalue.toml"), "memory = \"lots\"\n")
	smallDisk := writeFile(t, filepath.Join(dir, "smalldisk.toml"), "disk = \"64KiB\"\n")
	badKernel := writeFile(t, filepath.Join(dir, "kernel.toml"), "isolation = \"microvm\"\nkernel = \""+aFile+"\"\n")
	for _, c := range []struct {
		name string
		args []string
		want string // in the message
	}{
		{"missing-script", []string{"run", filepath.Join(dir, "nope.py")}, "nope.py"},
		{"script-is-dir", []string{"run", dir}, "directory"},
		{"nothing-to-run", []string{"run"}, "nothing to run"},
		{"bad-memory", []string{"run", "--memory", "lots", "-c", "pass"}, "--memory"},
		{"bad-disk", []string{"run", "--disk", "12XB", "-c", "pass"}, "--disk"},
		{"bad-timeout", []string{"run", "--timeout", "soon", "-c", "pass"}, "--timeout"},
		{"zero-pids", []string{"run", "--pids", "0", "-c", "pass"}, "--pids"},
		{"cpus-nan", []string{"run", "--cpus", "NaN", "-c", "pass"}, "--cpus: NaN cores"},
		{"cpus-inf", []string{"run", "--cpus", "Inf", "-c", "pass"}, "--cpus: +Inf cores"},
		{"cpus-below-quota", []string{"run", "--cpus", "0.001", "-c", "pass"}, "--cpus: 0.001 cores"},
		{"pids-not-a-number", []string{"run", "--pids", "many", "-c", "pass"}, "pids"},
		{"unknown-flag", []string{"run", "--bogus", "-c", "pass"}, "bogus"},
		{"unknown-command", []string{"frobnicate"}, "frobnicate"},
		{"policy-syntax", []string{"run", "--policy", badSyntax, "-c", "pass"}, "policy"},
		{"policy-unknown-key", []string{"run", "--policy", unknownKey, "-c", "pass"}, "memroy"},
		{"policy-bad-value", []string{"run", "--policy", badValue, "-c", "pass"}, "memory"},
		{"policy-missing", []string{"run", "--policy", filepath.Join(dir, "none.toml"), "-c", "pass"}, "policy"},
		{"python-missing", []string{"run", "--python", "/nonexistent/python3", "-c", "pass"}, "/nonexistent/python3"},
		{"python-not-executable", []string{"run", "--python", aFile, "-c", "pass"}, "python"},
		{"memory-too-small", []string{"run", "--memory", "1k", "-c", "pass"}, "memory"},
		{"pids-too-small", []string{"run", "--pids", "2", "-c", "pass"}, "pids"},
		{"disk-too-small", []string{"run", "--disk", "64KiB", "-c", "pass"}, "--disk: 64KiB is below 1MiB"},
		{"disk-too-small-policy", []string{"run", "--policy", smallDisk, "-c", "pass"}, "64KiB is below 1MiB"},
		{"timeout-negative", []string{"run", "--timeout", "-1s", "-c", "pass"}, "--timeout"},
		{"script-name-with-newline", []string{"run", filepath.Join(dir, "a\nb.py")}, "moat: script"},
		{"out-not-empty", []string{"run", "--out", nonEmpty, "-c", "pass"}, "empty"},
		{"out-unwritable", []string{"run", "--out", filepath.Join(aFile, "out"), "-c", "pass"}, "out"},
		{"isolation-unknown", []string{"run", "--isolation", "bogus", "-c", "pass"}, "bogus"},
		{"isolation-not-built", []string{"run", "--isolation", "jail", "-c", "pass"}, "jail"},
		{"network-bogus", []string{"run", "--network", "bogus", "-c", "pass"}, "bogus"},
		{"c-and-m", []string{"run", "-c", "pass", "-m", "x"}, "-m"},
		{"env-empty-name", []string{"run", "--env", "=x", "-c", "pass"}, "--env"},
		{"workspace-missing", []string{"run", "--workspace", filepath.Join(dir, "nows"), "-c", "pass"}, "workspace"},
		{"backends-extra-arg", []string{"backends", "x"}, "x"},
		{"kernel-missing", []string{"run", "--isolation", "microvm", "--kernel", filepath.Join(dir, "vmlinuz"), "-c", "pass"}, "--kernel " + filepath.Join(dir, "vmlinuz") + ": no such file"},
		{"kernel-not-bootable", []string{"run", "--isolation", "microvm", "--kernel", aFile, "-c", "pass"}, "not a bootable kernel"},
		{"policy-kernel-not-bootable", []string{"run", "--policy", badKernel, "-c", "pass"}, "not a bootable kernel"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := moatRun(t, nil, c.args...)
			if r.code != exitFailure {
				t.Errorf("exit %d, want %d\n%s", r.code, exitFailure, r)
			}
			wantOneLine(t, r.stderr, c.want)
			if r.stdout != "" {
				t.Errorf("stdout is not empty: %q", r.stdout)
			}
		})
	}
}

// wantOneLine checks stderr is one line "moat: ..." mentioning want.
func wantOneLine(t *testing.T, stderr, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr has %d lines, want exactly one:\n%s", len(lines), stderr)
	}
	if !strings.HasPrefix(stderr, "moat: ") {
		t.Errorf("stderr does not start with \"moat: \": %q", stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not mention %q", stderr, want)
	}
}

// jsonFields are the documented fields of `moat run --json`.
var jsonFields = []string{"status", "exit_code", "stdout", "stderr", "stdout_truncated", "stderr_truncated",
	"duration_ms", "max_rss_bytes", "isolation", "layers"}

func parseJSON(t *testing.T, r result) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r)
	}
	for _, f := range jsonFields {
		if _, ok := m[f]; !ok {
			t.Errorf("JSON lacks %q: %s", f, r.stdout)
		}
	}
	return m
}

func TestJSON(t *testing.T) {
	requireNative(t)
	t.Parallel()
	for _, c := range []struct {
		name     string
		args     []string
		code     int
		status   moat.Status
		stdout   string
		needsRun bool
	}{
		{"exited", []string{"-c", "import sys; print('out'); sys.stderr.write('err'); sys.exit(3)"}, 3, moat.StatusExited, "out\n", true},
		{"timeout", []string{"--timeout", "1s", "-c", "import time; time.sleep(30)"}, exitTimeout, moat.StatusTimeout, "", true},
		{"output-limit", []string{"--output-limit", "100", "-c", "print('x' * 100000)"}, 137, moat.StatusOutputLimit, strings.Repeat("x", 100), true},
		{"bad-flag", []string{"--memory", "lots", "-c", "pass"}, exitFailure, moat.StatusError, "", false},
		{"missing-script", []string{"/nonexistent/script.py"}, exitFailure, moat.StatusError, "", false},
		{"unknown-isolation", []string{"--isolation", "bogus", "-c", "pass"}, exitFailure, moat.StatusError, "", false},
		// Flag errors are failures too: a script that asked for --json
		// must still get an object to parse.
		{"unknown-flag", []string{"--bogus", "-c", "pass"}, exitFailure, moat.StatusError, "", false},
		{"bad-int-flag", []string{"--pids", "many", "-c", "pass"}, exitFailure, moat.StatusError, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := moatRun(t, nil, append([]string{"run", "--json"}, c.args...)...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d\n%s", r.code, c.code, r)
			}
			m := parseJSON(t, r)
			if m["status"] != string(c.status) {
				t.Errorf("status %v, want %s", m["status"], c.status)
			}
			if m["stdout"] != c.stdout {
				t.Errorf("JSON stdout %q, want %q", m["stdout"], c.stdout)
			}
			if c.needsRun {
				if m["isolation"] != "native" {
					t.Errorf("isolation %v, want native", m["isolation"])
				}
				if l, _ := m["layers"].([]any); len(l) == 0 {
					t.Errorf("no layers in %s", r.stdout)
				}
			} else {
				if e, _ := m["error"].(string); e == "" {
					t.Errorf("a failure without an error field: %s", r.stdout)
				}
				wantOneLine(t, r.stderr, "")
			}
			if c.name == "exited" && (m["stderr"] != "err" || m["exit_code"] != 3.0) {
				t.Errorf("JSON stderr %q exit_code %v", m["stderr"], m["exit_code"])
			}
		})
	}
}

// TestUserlandFlag: --userland (or userland = true in a policy) gives
// the program /bin/sh; without it there is none.
func TestUserlandFlag(t *testing.T) {
	requireNative(t)
	t.Parallel()
	policy := writeFile(t, filepath.Join(t.TempDir(), "policy.toml"), "userland = true\n")
	code := "import subprocess; print(subprocess.run('echo hi | tr a-z A-Z', shell=True, capture_output=True, text=True).stdout, end='')"
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"flag", []string{"--userland"}, "HI\n"},
		{"policy", []string{"--policy", policy}, "HI\n"},
		{"flag-wins", []string{"--policy", policy, "--userland=false"}, ""},
		{"default", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := moatRun(t, nil, append(append([]string{"run"}, c.args...), "-c", code)...)
			if c.want != "" && (r.code != 0 || r.stdout != c.want) {
				t.Errorf("want %q from the shell: %s", c.want, r)
			}
			if c.want == "" && (r.code != 1 || !strings.Contains(r.stderr, "No such file or directory: '/bin/sh'")) {
				t.Errorf("want no /bin/sh: %s", r)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	requireNative(t)
	t.Parallel()
	dir := t.TempDir()
	policy := writeFile(t, filepath.Join(dir, "policy.toml"), `
output_limit = "100"
env = ["FROM_POLICY=p", "BOTH=policy"]
timeout = "1s"
`)
	// The same without the short timeout, for the cases that must end by
	// themselves however slow the machine is.
	untimed := writeFile(t, filepath.Join(dir, "untimed.toml"), `
output_limit = "100"
env = ["FROM_POLICY=p", "BOTH=policy"]
`)
	printEnv := "import os, time; print(os.environ.get('FROM_POLICY'), os.environ.get('BOTH'))"
	t.Run("applies", func(t *testing.T) {
		t.Parallel()
		r := moatRun(t, nil, "run", "--policy", untimed, "-c", printEnv)
		if r.code != 0 || r.stdout != "p policy\n" {
			t.Errorf("policy env not applied: %s", r)
		}
		r = moatRun(t, nil, "run", "--policy", untimed, "-c", "print('x' * 1000)")
		if r.code != 137 {
			t.Errorf("policy output_limit not applied: %s", r)
		}
		r = moatRun(t, nil, "run", "--policy", policy, "-c", "import time; time.sleep(20)")
		if r.code != exitTimeout {
			t.Errorf("policy timeout not applied: %s", r)
		}
	})
	t.Run("flags-win", func(t *testing.T) {
		t.Parallel()
		r := moatRun(t, nil, "run", "--policy", untimed, "--env", "BOTH=flag", "-c", printEnv)
		if r.code != 0 || r.stdout != "None flag\n" {
			t.Errorf("--env did not replace the policy's env: %s", r)
		}
		r = moatRun(t, nil, "run", "--policy", untimed, "--output-limit", "1MiB", "-c", "print('x' * 1000)")
		if r.code != 0 || len(r.stdout) != 1001 {
			t.Errorf("--output-limit did not win over the policy: %s", r)
		}
		r = moatRun(t, nil, "run", "--policy", policy, "--timeout", "60s", "-c", "import time; time.sleep(1.5); print('slept')")
		if r.code != 0 || r.stdout != "slept\n" {
			t.Errorf("--timeout did not win over the policy: %s", r)
		}
	})
}

func TestEnvFlag(t *testing.T) {
	requireNative(t)
	t.Parallel()
	r := moatRun(t, []string{"B=from-host", "SECRET_NOT_PASSED=s"}, "run", "--env", "A=1", "--env", "B", "--env", "UNSET_ON_HOST_XYZ",
		"-c", "import os, json; print(json.dumps({k: v for k, v in os.environ.items() if k in ('A', 'B', 'UNSET_ON_HOST_XYZ', 'SECRET_NOT_PASSED')}, sort_keys=True))")
	if r.code != 0 || r.stdout != `{"A": "1", "B": "from-host"}`+"\n" {
		t.Errorf("unexpected: %s", r)
	}
}

// TestOutputRawOnPipe: with stdout a pipe, the program's bytes pass
// unchanged; escaping for terminals is internal/termsafe's to test.
func TestOutputRawOnPipe(t *testing.T) {
	requireNative(t)
	t.Parallel()
	r := moatRun(t, nil, "run", "-c", `import sys; sys.stdout.buffer.write(b"\x1b[31mred\x07\x00\xff\r\n"); sys.stderr.buffer.write(b"\x1b]0;title\x07")`)
	if r.code != 0 || r.stdout != "\x1b[31mred\x07\x00\xff\r\n" || r.stderr != "\x1b]0;title\x07" {
		t.Errorf("output not passed raw to a pipe: %s", r)
	}
}

// TestOutputWriteError: output moat cannot write (stdout on a full disk)
// is not a silent success: one line names it and moat exits 125, after the
// program ran to its end.
func TestOutputWriteError(t *testing.T) {
	requireNative(t)
	t.Parallel()
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to write to: %v", err)
	}
	defer full.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := moatCmd(ctx, nil, "run", "-c", `print("lost"); import sys; print("ran to the end", file=sys.stderr)`)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = full, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 125 {
		t.Fatalf("stdout on a full disk: want exit 125, got %v\nstderr: %s", err, errb.String())
	}
	prog, moatLine, ok := strings.Cut(errb.String(), "moat: ")
	if !ok || prog != "ran to the end\n" {
		t.Fatalf("want the program's stderr and then moat's line, got %q", errb.String())
	}
	wantOneLine(t, "moat: "+moatLine, "output to /dev/stdout was cut short: write /dev/stdout: no space left on device")
}

func TestBackends(t *testing.T) {
	t.Parallel()
	r := moatRun(t, nil, "backends")
	if r.code != 0 {
		t.Fatalf("moat backends: %s", r)
	}
	for _, tech := range moat.Techniques {
		if !strings.Contains(r.stdout, tech.Name) {
			t.Errorf("moat backends does not list %s:\n%s", tech.Name, r.stdout)
		}
	}
	if len(moat.Techniques) != 10 {
		t.Errorf("%d techniques, want the seed's 9 and kubernetes", len(moat.Techniques))
	}

	r = moatRun(t, nil, "backends", "--json")
	if r.code != 0 {
		t.Fatalf("moat backends --json: %s", r)
	}
	var rows []struct {
		Name      string `json:"name"`
		Level     string `json:"level"`
		Built     bool   `json:"built"`
		Available bool   `json:"available"`
		Reason    string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("moat backends --json is not JSON: %v\n%s", err, r.stdout)
	}
	if len(rows) != 10 {
		t.Errorf("%d rows, want 10", len(rows))
	}
	for _, row := range rows {
		if row.Level == "" {
			t.Errorf("%s has no level", row.Name)
		}
		if !row.Available && row.Reason == "" {
			t.Errorf("%s is unavailable without a reason", row.Name)
		}
		if row.Name == "native" && !row.Available && moat.Check(context.Background(), mustGet(t, "native")) == nil {
			t.Errorf("native works here but moat backends says unavailable: %s", row.Reason)
		}
	}
}

func mustGet(t *testing.T, name string) moat.Backend {
	b, err := moat.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := moatRun(t, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "moat ") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("moat version: %s", r)
	}
}

// TestSIGTERM: moat interrupted while the program sleeps exits promptly
// with 130 or 143 and leaves no process of the run behind.
func TestSIGTERM(t *testing.T) {
	requireNative(t)
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			marker := "moat-marker-" + randomHex()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := moatCmd(ctx, []string{"MARKER=" + marker}, "run", "--env", "MARKER", "-c", `import os, subprocess, sys, time
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)', os.environ['MARKER']], start_new_session=True)
print('started', flush=True)
time.sleep(60)`)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			if line != "started\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("the program did not start: %q, stderr %q", line, errb.String())
			}
			if !waitMarker(marker, 5*time.Second) {
				t.Errorf("the daemon was never seen on the host; the check below proves nothing")
			}
			sent := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			if d := time.Since(sent); d > 15*time.Second {
				t.Errorf("moat took %s to exit after %s", d, sig)
			}
			code := cmd.ProcessState.ExitCode()
			if code != 130 && code != 143 {
				t.Errorf("exit %d (%v), want 130 or 143; stderr %q", code, err, errb.String())
			}
			if pids := markerPids(marker); len(pids) > 0 {
				t.Errorf("processes of the run left on the host after %s: %v", sig, pids)
			}
			if strings.Contains(errb.String(), "goroutine ") {
				t.Errorf("stack trace on stderr: %s", errb.String())
			}
		})
	}
}

// TestSIGPIPE: a reader of moat's output that goes away (`moat run ... |
// head`) cancels the run: moat exits 130, not killed by SIGPIPE, and
// leaves no process of the run behind (killed outright, it could not tear
// down a container or a cgroup).
func TestSIGPIPE(t *testing.T) {
	requireNative(t)
	t.Parallel()
	marker := "moat-marker-" + randomHex()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := moatCmd(ctx, []string{"MARKER=" + marker}, "run", "--env", "MARKER", "-c", `import os, subprocess, sys, time
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)', os.environ['MARKER']], start_new_session=True)
while True:
    print('x' * 100, flush=True)
    time.sleep(0.01)`)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	if !strings.HasPrefix(line, "xxx") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the program did not start: %q, stderr %q", line, errb.String())
	}
	if !waitMarker(marker, 5*time.Second) {
		t.Errorf("the daemon was never seen on the host; the check below proves nothing")
	}
	r.Close()
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("moat was killed by %s when its reader went away; stderr %q", ws.Signal(), errb.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d (%v), want 130; stderr %q", code, err, errb.String())
	}
	if pids := markerPids(marker); len(pids) > 0 {
		t.Errorf("processes of the run left on the host: %v", pids)
	}
	if strings.Contains(errb.String(), "goroutine ") {
		t.Errorf("stack trace on stderr: %s", errb.String())
	}
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// markerPids lists host processes whose command line holds marker.
func markerPids(marker string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(marker)) && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

func waitMarker(marker string, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if len(markerPids(marker)) > 0 {
			return true
		}
	}
	return false
}

// TestInitStartsEarly checks that the sandbox init of a run without a
// network (argv[0] nsinit.Arg) and the container init (first argument
// ctrinit.Arg) run before the packages they do not need are initialized:
// the Docker client's reference parser and cobra, among the costliest,
// must never initialize in them (see internal/sandbox/nsinit, backend/internal/ctrinit).
func TestInitStartsEarly(t *testing.T) {
	run := func(argv ...string) string {
		cmd := &exec.Cmd{Path: moatBin, Args: argv, Env: []string{"GODEBUG=inittrace=1"}}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		_ = cmd.Run() // the init fails at once: it has no config to read
		return stderr.String()
	}
	late := []string{"init github.com/distribution/reference ", "init github.com/spf13/cobra ", "init net/http ", "init html/template "}
	for _, argv := range [][]string{{"moat-sandbox-init"}, {"/.moat/moat", "moat-container-init"}} {
		early := run(argv...) // both fail at once: no config, not pid 1
		if !strings.Contains(early, "init os/signal @") {
			t.Fatalf("%s: no init trace of the init's own dependencies:\n%s", argv, early)
		}
		for _, p := range late {
			if strings.Contains(early, p) {
				t.Errorf("%s initialized %s before it ran", argv, strings.Fields(p)[1])
			}
		}
	}
	// The proof that this can fail: the CLI (and the network init,
	// which starts from main) initialize them all.
	full := run("moat")
	for _, p := range late {
		if !strings.Contains(full, p) {
			t.Errorf("the CLI did not initialize %s: is the test still meaningful?", strings.Fields(p)[1])
		}
	}
}

// TestCLIStartLight checks that moat's own packages compile none of their
// regular expressions while the CLI starts (internal/lazyre): the
// scanner's rules alone allocated 565 KB and 2,883 objects at every
// start. The allocations of each package's initialization are counted
// (GODEBUG=inittrace=1), not timed.
func TestCLIStartLight(t *testing.T) {
	if err := lazyre.Check(); err != nil {
		t.Fatal(err) // every pattern compiles, though none at the start
	}
	cmd := &exec.Cmd{Path: moatBin, Args: []string{"moat", "version"}, Env: []string{"GODEBUG=inittrace=1"}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("moat version: %v\n%s", err, stderr.String())
	}
	seen := 0
	for _, l := range strings.Split(stderr.String(), "\n") {
		// init github.com/moat-sandbox/moat/scan @183 ms, 0.094 ms clock, 8488 bytes, 73 allocs
		f := strings.Fields(l)
		if len(f) < 10 || f[0] != "init" || !strings.HasPrefix(f[1], "github.com/moat-sandbox/moat") {
			continue
		}
		seen++
		if n, err := strconv.Atoi(f[7]); err != nil || n > 32<<10 {
			t.Errorf("%s allocates %s bytes at every start: %s", f[1], f[7], l)
		}
	}
	if seen == 0 {
		t.Fatalf("no init trace of moat's packages:\n%s", stderr.String())
	}
}

// TestNoReport: --no-report and MOAT_EVENTS=off both reach the Spec: no
// honeytoken in the environment, no findings, the layer says off. With
// the report on, the same program is seen reading a planted secret.
func TestNoReport(t *testing.T) {
	requireNative(t)
	t.Parallel()
	code := "import os; print(bool(os.environ.get('AWS_SECRET_ACCESS_KEY'))); open(os.path.expanduser('~/.aws/credentials')).read() if os.path.exists(os.path.expanduser('~/.aws/credentials')) else None"
	layer := func(r result) (string, int) {
		var res moat.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("not JSON: %v: %s", err, r)
		}
		for _, l := range res.Layers {
			if l.Name == "behaviour-report" {
				return l.Detail, len(res.Findings)
			}
		}
		return "", len(res.Findings)
	}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		off  bool
	}{
		{"on", nil, nil, false},
		{"flag", nil, []string{"--no-report"}, true},
		{"env", []string{"MOAT_EVENTS=off"}, nil, true},
	} {
		args := append(append([]string{"run", "--isolation", "native", "--json"}, c.args...), "-c", code)
		r := moatRun(t, c.env, args...)
		detail, findings := layer(r)
		var res moat.Result
		_ = json.Unmarshal([]byte(r.stdout), &res)
		if c.off != strings.HasPrefix(detail, "off") || c.off != (res.Stdout == "False\n") || (c.off && findings != 0) || (!c.off && findings == 0) {
			t.Errorf("%s: layer %q, program saw a token: %q, %d findings; want report off=%v: %s", c.name, detail, res.Stdout, findings, c.off, r)
		}
	}
}

// TestBackendsUnverifiedJail: off FreeBSD, `moat backends` says the jail
// backend is unavailable here and unverified, with the reason.
func TestBackendsUnverifiedJail(t *testing.T) {
	t.Parallel()
	r := moatRun(t, nil, "backends", "--json")
	var rows []struct {
		Name      string `json:"name"`
		Built     bool   `json:"built"`
		Available bool   `json:"available"`
		Reason    string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("moat backends --json: %v\n%s", err, r.stdout)
	}
	for _, row := range rows {
		if row.Name != "jail" {
			continue
		}
		if !row.Built || row.Available || !strings.Contains(row.Reason, "FreeBSD only") || !strings.Contains(row.Reason, "unverified") {
			t.Errorf("jail row: %+v", row)
		}
		return
	}
	t.Error("no jail row")
}

// TestSSHBadHostCLI: a host that cannot be reached, a key that is not
// there, a policy that names a bad port: one line, exit 125, no panic.
func TestSSHBadHostCLI(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, _ := gossh.MarshalPrivateKey(priv, "")
	os.WriteFile(key, pem.EncodeToMemory(blk), 0o600)
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, nil, 0o600)
	base := []string{"MOAT_SSH_HOST=127.0.0.1", "MOAT_SSH_KEY=" + key, "MOAT_SSH_KNOWN_HOSTS=" + kh}
	for _, c := range []struct {
		env  []string
		want string
	}{
		{append(base, "MOAT_SSH_PORT="+strconv.Itoa(port)), "connection refused"},
		{append(base, "MOAT_SSH_PORT=99999"), "is not a port"},
		{[]string{"MOAT_SSH_HOST=127.0.0.1", "MOAT_SSH_KEY=" + filepath.Join(dir, "none")}, "no such file"},
	} {
		r := moatRun(t, c.env, "run", "--isolation", "ssh", "--allow-degraded", "-c", "print(1)")
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 125 || len(lines) != 1 || !strings.HasPrefix(lines[0], "moat: ") || !strings.Contains(lines[0], c.want) {
			t.Errorf("%q: %s; want exit 125 and one line saying %q", c.env, r, c.want)
		}
	}
}

// TestKernelFlag: --kernel is for microvm only, and a kernel that passes
// the flag's check but that microvm cannot use (no modules for it) is
// one line naming the backend once.
func TestKernelFlag(t *testing.T) {
	dir := t.TempDir()
	// The setup header of a bzImage, and nothing else.
	hdr := make([]byte, 0x400)
	copy(hdr[0x202:], "HdrS")
	fake := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(fake, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("microvm", func(t *testing.T) {
		r := moatRun(t, nil, "run", "--isolation", "microvm", "--kernel", fake, "-c", "pass")
		if r.code != exitFailure {
			t.Errorf("exit %d, want %d\n%s", r.code, exitFailure, r)
		}
		wantOneLine(t, r.stderr, "moat: microvm: ")
		if strings.Contains(r.stderr, "microvm: microvm:") {
			t.Errorf("the backend is named twice: %q", r.stderr)
		}
	})
	t.Run("other-backend", func(t *testing.T) {
		requireNative(t)
		r := moatRun(t, nil, "run", "--isolation", "native", "--kernel", fake, "-c", "pass")
		if r.code != exitFailure {
			t.Errorf("exit %d, want %d\n%s", r.code, exitFailure, r)
		}
		wantOneLine(t, r.stderr, "--kernel: only the microvm backend")
	})
}

// TestInitBinary: a moat-init built with moat, beside it, is the init of
// its native runs (with a network too): pid 1's text, as the program
// reads it in /proc/1/status, is the helper's, not moat's. One of another
// build (other tags), or one others can write, is refused and moat starts
// itself, with the same result.
func TestInitBinary(t *testing.T) {
	requireNative(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "moat")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := func(args ...string) {
		t.Helper()
		cmd := exec.Command(goTool, append([]string{"build"}, args...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %q: %v\n%s", args, err, out)
		}
	}
	// moat as the other tests build it, copied (the copy is newer than
	// the helper built next, within the handshake's slack either way).
	b, err := os.ReadFile(moatBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(dir, "moat-init")
	build("-o", helper, "../moat-init")
	// run returns the trace's line on the init binary and the size of pid
	// 1's text in kB.
	run := func(network string, env ...string) (trace string, text int) {
		t.Helper()
		cmd := exec.Command(bin, "run", "--isolation", "native", "--network", network, "-c",
			`print([l.split()[1] for l in open("/proc/1/status") if l.startswith("VmExe:")][0])`)
		cmd.Env = append(append(os.Environ(), "MOAT_TRACE=1"), env...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		text, aerr := strconv.Atoi(strings.TrimSpace(out.String()))
		if err != nil || aerr != nil {
			t.Fatalf("network %s: %v: stdout %q\n%s", network, err, out.String(), errb.String())
		}
		for _, l := range strings.Split(errb.String(), "\n") {
			if strings.Contains(l, `msg="init binary"`) {
				return l, text
			}
		}
		t.Fatalf("no trace of the init binary:\n%s", errb.String())
		return "", 0
	}
	_, selfText := run("none", "MOAT_INIT=self")
	if out, err := exec.Command(bin, "backends").CombinedOutput(); err != nil || !strings.Contains(string(out), "init: "+helper) {
		t.Errorf("moat backends does not name the helper as native's init: %v\n%s", err, out)
	}
	for _, network := range []string{"none", "sinkhole"} {
		l, text := run(network)
		if !strings.Contains(l, "binary="+helper) || text*2 > selfText {
			t.Errorf("network %s: the helper beside moat was not its init (pid 1's text %d kB, moat's %d kB): %s", network, text, selfText, l)
		}
	}
	if err := os.Chmod(helper, 0o757); err != nil {
		t.Fatal(err)
	}
	if l, text := run("none"); !strings.Contains(l, "binary=self") || !strings.Contains(l, "writable by others") || text != selfText {
		t.Errorf("a helper others can write was not refused (pid 1's text %d kB, moat's %d kB): %s", text, selfText, l)
	}
	if out, err := exec.Command(bin, "backends").CombinedOutput(); err != nil || !strings.Contains(string(out), "init: moat itself (moat-init: "+helper+": writable by others") {
		t.Errorf("moat backends does not say why the helper is not native's init: %v\n%s", err, out)
	}
	build("-tags", "moatskew", "-o", helper, "../moat-init")
	if l, text := run("none"); !strings.Contains(l, "binary=self") || !strings.Contains(l, "build setting -tags") || text != selfText {
		t.Errorf("a helper of another build was not refused (pid 1's text %d kB, moat's %d kB): %s", text, selfText, l)
	}
}

// TestNoClientGoScheme: the default build links the kubernetes backend
// but not client-go's scheme (k8s.io/client-go/kubernetes/scheme, which
// every typed client imports), whose package initialization registers
// every API group of Kubernetes (672 KB, 5,668 allocations) at every
// start of moat; nor any API group but the three the backend's own
// scheme holds, built at its first use (backend/kubernetes/client.go).
func TestNoClientGoScheme(t *testing.T) {
	var stderr bytes.Buffer
	cmd := &exec.Cmd{Path: moatBin, Args: []string{"moat", "version"}, Env: []string{"GODEBUG=inittrace=1"}, Stderr: &stderr}
	if err := cmd.Run(); err != nil {
		t.Fatalf("moat version: %v\n%s", err, stderr.String())
	}
	trace := stderr.String()
	if !strings.Contains(trace, "init github.com/moat-sandbox/moat/backend/kubernetes ") {
		t.Fatalf("the default build has no kubernetes backend: is the test still meaningful?\n%s", trace)
	}
	ours := []string{"k8s.io/api/core/v1", "k8s.io/api/networking/v1", "k8s.io/api/node/v1"}
	for _, l := range strings.Split(trace, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "init" {
			continue
		}
		if strings.HasPrefix(f[1], "k8s.io/client-go/kubernetes") || strings.HasPrefix(f[1], "k8s.io/api/") && !slices.Contains(ours, f[1]) {
			t.Errorf("moat initializes %s at every start: %s", f[1], l)
		}
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	list := exec.Command(goTool, "list", "-deps", ".")
	list.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "k8s.io/client-go/kubernetes") {
			t.Errorf("moat links %s", p)
		}
	}
}

// TestNoKube: built with the tag nokube, moat has no kubernetes backend
// and never initializes Kubernetes' client scheme (every API group
// registered at each start); `moat backends` and a run that asks for it
// say it is not in this build, kube-seccomp refuses in one line.
func TestNoKube(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "moat")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-tags", "nokube", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nokube: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	cmd := &exec.Cmd{Path: bin, Args: []string{"moat", "version"}, Env: []string{"GODEBUG=inittrace=1"}, Stderr: &stderr}
	if err := cmd.Run(); err != nil {
		t.Fatalf("moat version: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "init github.com/moat-sandbox/moat ") {
		t.Fatalf("no init trace:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "init k8s.io/") {
		t.Errorf("a nokube moat initializes Kubernetes' packages:\n%s", stderr.String())
	}
	out, err := exec.Command(bin, "backends").CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^kubernetes .* no .*not in this build of moat`).Match(out) {
		t.Errorf("moat backends: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "run", "--isolation", "kubernetes", "-c", "print(1)").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailure || !strings.Contains(string(out), "not in this build of moat") || strings.Contains(string(out), "\n1\n") {
		t.Errorf("run --isolation kubernetes: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "kube-seccomp").CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailure || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("kube-seccomp: %v\n%s", err, out)
	}
}
