package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// projects holds pkgtest's test packages.
var projects = filepath.Join("..", "..", "pkgtest", "testdata", "projects")

// requirePyTools skips (or, when CI requires native, fails) without
// Debian's python3 with setuptools, pip, pytest and wheel.
func requirePyTools(t *testing.T) {
	t.Helper()
	requireNative(t)
	if out, err := exec.Command("/usr/bin/python3", "-c", "import setuptools, pip, pytest, wheel, venv").CombinedOutput(); err != nil {
		msg := "/usr/bin/python3 lacks setuptools, pip, pytest, wheel or venv (apt-get install python3-pip python3-pytest python3-setuptools python3-wheel python3-venv): " + string(out)
		if os.Getenv("MOAT_REQUIRE_BACKENDS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// oneMoatLine checks that stderr is one line "moat: ..." containing want.
func oneMoatLine(t *testing.T, r result, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != 125 || len(lines) != 1 || !strings.HasPrefix(lines[0], "moat: ") || !strings.Contains(lines[0], want) {
		t.Errorf("want exit 125 and one line `moat: ...%s...`: %s", want, r)
	}
}

func TestTestBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	corrupt := writeFile(t, filepath.Join(dir, "corrupt-1.0.tar.gz"), "\x1f\x8b this is not gzip")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "evil-1.0/../../../../tmp/owned", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
	tw.Write([]byte("x"))
	tw.Close()
	zw.Close()
	evil := writeFile(t, filepath.Join(dir, "evil-1.0.tar.gz"), buf.String())
	calc := filepath.Join(projects, "calc")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"test", t.TempDir()}, "no Python project"},
		{[]string{"test", corrupt}, "corrupt archive"},
		{[]string{"test", evil}, "path traversal"},
		{[]string{"test", "--phases", "install,fuzz", calc}, `unknown phase "fuzz"`},
		{[]string{"test", "--wheelhouse", filepath.Join(dir, "missing"), calc}, "--wheelhouse"},
		{[]string{"test", "--timeout-test", "soon", calc}, "--timeout-test"},
		{[]string{"test", "--index", "ftp://mirror", calc}, "--index"},
		{[]string{"test", "--memory", "lots", calc}, "--memory"},
		{[]string{"test", filepath.Join(dir, "nothing-here")}, "no such file"},
		{[]string{"test"}, "arg"},
		{[]string{"test", "--bogus", calc}, "unknown flag"},
	} {
		oneMoatLine(t, moatRun(t, nil, tc.args...), tc.want)
	}
	// --json still gets a JSON document on a bad input.
	r := moatRun(t, nil, "test", "--json", "--phases", "nope", calc)
	var rep map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep["status"] != "error" {
		t.Errorf("--json on a bad input: %v: %s", err, r)
	}
}

func TestTestJSON(t *testing.T) {
	requirePyTools(t)
	t.Parallel()
	r := moatRun(t, nil, "test", "--json", "--quiet", filepath.Join(projects, "failing"))
	if r.code != 1 {
		t.Fatalf("want exit 1 for failing tests: %s", r)
	}
	var rep struct {
		Target    string `json:"target"`
		Isolation string `json:"isolation"`
		Status    string `json:"status"`
		Phases    []struct {
			Name       string `json:"name"`
			Status     string `json:"status"`
			ExitCode   *int   `json:"exit_code"`
			DurationMS *int64 `json:"duration_ms"`
			Stdout     string `json:"stdout"`
			Stderr     *string
		} `json:"phases"`
		Tests *struct {
			Passed, Failed, Errors, Skipped *int
			Failures                        []string
		} `json:"tests"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v: %s", err, r)
	}
	if rep.Status != "failed" || rep.Isolation != "native" || !strings.HasSuffix(rep.Target, "failing") || len(rep.Phases) != 4 {
		t.Errorf("report %+v", rep)
	}
	for i, want := range []string{"venv:passed", "install:passed", "import:passed", "test:failed"} {
		p := rep.Phases[i]
		if p.Name+":"+p.Status != want || p.ExitCode == nil || p.DurationMS == nil {
			t.Errorf("phase %d: %+v, want %s", i, p, want)
		}
	}
	if rep.Tests == nil || rep.Tests.Failed == nil || *rep.Tests.Failed != 2 || *rep.Tests.Passed != 1 || *rep.Tests.Errors != 0 || *rep.Tests.Skipped != 0 ||
		strings.Join(rep.Tests.Failures, ",") != "tests.test_failing::test_bad_add,tests.test_failing::test_bad_mul" {
		t.Errorf("tests %+v", rep.Tests)
	}
}

func TestTestSummaryAndExitCodes(t *testing.T) {
	requirePyTools(t)
	t.Parallel()
	r := moatRun(t, nil, "test", filepath.Join(projects, "calc"))
	if r.code != 0 || !strings.Contains(r.stdout, "PASSED") || !strings.Contains(r.stdout, "tests: 2 passed, 0 failed, 0 errors, 1 skipped") {
		t.Errorf("calc: %s", r)
	}
	if !strings.Contains(r.stderr, "moat: install passed") {
		t.Errorf("no progress on stderr: %s", r)
	}
	r = moatRun(t, nil, "test", "--quiet", filepath.Join(projects, "badimport"))
	if r.code != 1 || !strings.Contains(r.stdout, "import   failed") || !strings.Contains(r.stdout, "this_module_does_not_exist_anywhere") {
		t.Errorf("badimport: %s", r)
	}
	// Output from the sandbox is escaped on the way to the terminal.
	r = moatRun(t, nil, "test", "--quiet", "--phases", "test", "--timeout-test", "2s",
		"--command", `printf 'evil\033]0;title\007\n'; sleep 30`, filepath.Join(projects, "calc"))
	if r.code != 124 || !strings.Contains(r.stdout, "test     timeout") || strings.ContainsRune(r.stdout, 0x1b) || !strings.Contains(r.stdout, `evil\x1b]0;title\x07`) {
		t.Errorf("timeout: %s", r)
	}
}
