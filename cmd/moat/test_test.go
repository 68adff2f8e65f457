package main

import (
	"archive/tar"
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/moattest"
	"github.com/moat-sandbox/moat/pkgtest"
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
		{[]string{"test", "--network-test", "bogus", calc}, "--network-test"},
		{[]string{"test", "--network", "bogus", calc}, "--network: "},
		{[]string{"test", "--network-install", "sinkhole", "--index", "http://127.0.0.1:9/simple/", calc}, "--index gives the install phase allow=127.0.0.1:9"},
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

// TestTestImageFlags: a container backend runs the image's python3, so a
// host interpreter is a usage error, as is naming both.
func TestTestImageFlags(t *testing.T) {
	calc := filepath.Join(projects, "calc")
	moattest.RequireBackend(t, "native")
	oneMoatLine(t, moatRun(t, nil, "test", "--isolation", "native", "--image", "moat/python:bookworm", "--python", "/usr/bin/python3", calc), "choose one")
	moattest.RequireBackend(t, "docker")
	oneMoatLine(t, moatRun(t, nil, "test", "--isolation", "docker", "--network-install", "none", "--network-import", "none",
		"--python", "/usr/bin/python3", calc), "the image's python3")
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

// checkSARIF checks the structure SARIF 2.1.0 requires of a log (and
// code scanning reads): version, runs, tool.driver.name, rules with ids,
// results with a message text, a known rule and a valid level,
// invocations with executionSuccessful.
func checkSARIF(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var log map[string]any
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	if log["version"] != "2.1.0" || !strings.Contains(fmt.Sprint(log["$schema"]), "sarif-schema-2.1.0") {
		t.Errorf("version %v, $schema %v", log["version"], log["$schema"])
	}
	runs, _ := log["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("runs: %v", log["runs"])
	}
	run := runs[0].(map[string]any)
	tool, _ := run["tool"].(map[string]any)
	driver, _ := tool["driver"].(map[string]any)
	if driver == nil || driver["name"] != "moat" {
		t.Fatalf("tool.driver %v", run["tool"])
	}
	rules := map[string]bool{}
	for _, r := range driver["rules"].([]any) {
		id, _ := r.(map[string]any)["id"].(string)
		if id == "" {
			t.Errorf("rule without id: %v", r)
		}
		rules[id] = true
	}
	var out []map[string]any
	results, ok := run["results"].([]any)
	if !ok {
		t.Fatalf("results: %v", run["results"])
	}
	for _, r := range results {
		r := r.(map[string]any)
		msg, _ := r["message"].(map[string]any)
		if msg == nil || msg["text"] == "" || !rules[fmt.Sprint(r["ruleId"])] {
			t.Errorf("result: %v", r)
		}
		switch r["level"] {
		case "none", "note", "warning", "error":
		default:
			t.Errorf("level %v", r["level"])
		}
		for _, l := range r["locations"].([]any) {
			uri := l.(map[string]any)["physicalLocation"].(map[string]any)["artifactLocation"].(map[string]any)["uri"]
			if uri == "" {
				t.Errorf("location without uri: %v", l)
			}
		}
		out = append(out, r)
	}
	for _, inv := range run["invocations"].([]any) {
		if _, ok := inv.(map[string]any)["executionSuccessful"].(bool); !ok {
			t.Errorf("invocation without executionSuccessful: %v", inv)
		}
	}
	return out
}

// The behaviour report of moat test: findings per phase in the JSON and
// the summary; --sarif and --html files.
func TestTestReport(t *testing.T) {
	requirePyTools(t)
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "persist")
	writeFile(t, filepath.Join(src, "setup.py"), "from setuptools import setup\nsetup(name=\"persist\", version=\"0.1\", packages=[\"persist\"])\n")
	writeFile(t, filepath.Join(src, "persist", "__init__.py"), `import sysconfig
with open(sysconfig.get_paths()["purelib"] + "/zz_\x1b[31mpersist.pth", "w") as f:
    f.write("import os\n")
`)
	sarif, html := filepath.Join(dir, "out.sarif"), filepath.Join(dir, "out.html")
	r := moatRun(t, nil, "test", "--json", "--quiet", "--phases", "install,import", "--sarif", sarif, "--html", html, src)
	if r.code != 0 {
		t.Fatalf("exit %s", r)
	}
	var rep struct {
		Verdict  string `json:"verdict"`
		Findings []struct {
			Category, Severity, Summary, Phase string
			Evidence                           []map[string]any
		} `json:"findings"`
		Phases []struct {
			Name     string            `json:"name"`
			Events   []map[string]any  `json:"events"`
			Findings *[]map[string]any `json:"findings"`
		} `json:"phases"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v: %s", err, r)
	}
	found := false
	for _, f := range rep.Findings {
		found = found || (f.Category == "persistence" && f.Phase == "import" && f.Severity == "high" && len(f.Evidence) > 0)
	}
	if !found || rep.Verdict != "high" {
		t.Errorf("no persistence finding of the import phase: verdict %s, %+v", rep.Verdict, rep.Findings)
	}
	for _, p := range rep.Phases {
		if p.Findings == nil {
			t.Errorf("phase %s: no findings list", p.Name)
		}
		if (p.Name == "install" || p.Name == "import") && len(p.Events) == 0 {
			t.Errorf("phase %s: no events", p.Name)
		}
		for _, e := range p.Events {
			if e["phase"] != p.Name {
				t.Fatalf("phase %s: event %v", p.Name, e)
			}
		}
	}
	// SARIF: valid structure, the finding with its phase and the target.
	data, err := os.ReadFile(sarif)
	if err != nil {
		t.Fatal(err)
	}
	found = false
	for _, res := range checkSARIF(t, data) {
		props, _ := res["properties"].(map[string]any)
		found = found || (res["ruleId"] == "moat/persistence" && props["phase"] == "import" && strings.Contains(string(data), "persist"))
	}
	if !found {
		t.Errorf("SARIF lacks the import-phase persistence result: %s", data)
	}
	// HTML: one self-contained page with the phases.
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{"<!DOCTYPE html>", "<h2>Phases</h2>", "<td><b>import</b></td>", "phase import", "zz_\\x1b[31mpersist.pth", "default-src 'none'"} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<link", "src=\"http", "href=\"http", "\x1b"} {
		if strings.Contains(s, bad) {
			t.Errorf("page is not self-contained or not escaped: has %q", bad)
		}
	}
	// The text summary: findings per phase, escaped.
	r = moatRun(t, nil, "test", "--quiet", "--phases", "install,import", src)
	if r.code != 0 || !regexp.MustCompile(`(?m)^findings: \d+, verdict HIGH$`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^  import +high +persistence +created a \.pth file`).MatchString(r.stdout) || strings.ContainsRune(r.stdout, 0x1b) {
		t.Errorf("summary: %s", r)
	}
}

// TestTestAutoIndex: under auto, `moat test --index` picks the strongest
// backend that can enforce the install phase's allow mode. Where gVisor
// works it is auto's first choice, but it enforces only none and the
// sinkhole, so the phases run under native (not exit 125 from gVisor's
// refusal).
func TestTestAutoIndex(t *testing.T) {
	requirePyTools(t)
	moattest.RequireBackend(t, "gvisor")
	r := moatRun(t, nil, "test", "--json", "--quiet", "--phases", "install", "--index", "http://127.0.0.1:9/simple/",
		filepath.Join(projects, "calc"))
	var rep struct {
		Isolation string `json:"isolation"`
		Phases    []struct{ Name, Status, Network string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v: %s", err, r)
	}
	if r.code == 125 || rep.Isolation != "native" || len(rep.Phases) < 2 || rep.Phases[1].Name != "install" ||
		rep.Phases[1].Network != "allow=127.0.0.1:9" || rep.Phases[1].Status == "error" {
		t.Errorf("want the install phase run under native with allow=127.0.0.1:9: %+v: %s", rep, r)
	}
	// Named explicitly, gVisor refuses the index in one line.
	oneMoatLine(t, moatRun(t, nil, "test", "--isolation", "gvisor", "--phases", "install", "--index", "http://127.0.0.1:9/simple/",
		filepath.Join(projects, "calc")), "only none")
}

// TestTestAutoSinkhole: gVisor serves the sinkhole that install and
// import have by default, so where it works auto picks it for them, and
// the phases run there with the sink.
func TestTestAutoSinkhole(t *testing.T) {
	requirePyTools(t)
	moattest.RequireBackend(t, "gvisor")
	r := moatRun(t, nil, "test", "--isolation", "auto", "--json", "--quiet", "--phases", "install,import", filepath.Join(projects, "calc"))
	var rep struct {
		Isolation string `json:"isolation"`
		Phases    []struct{ Name, Status, Network string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v: %s", err, lastBytes(r.String(), 4000))
	}
	sunk := 0
	for _, p := range rep.Phases {
		if (p.Name == "install" || p.Name == "import") && p.Network == "sinkhole" && p.Status == "passed" {
			sunk++
		}
	}
	if r.code != 0 || rep.Isolation != "gvisor" || sunk != 2 {
		t.Errorf("want install and import passed under gvisor with the sinkhole: %+v: %s", rep, lastBytes(r.String(), 4000))
	}
}

// lastBytes is the end of s, at most n bytes.
func lastBytes(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestTestUserlandFlag: the userland is on by default for moat test, and
// --userland=false turns it off.
func TestTestUserlandFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		off  bool
	}{{nil, false}, {[]string{"--userland=false"}, true}, {[]string{"--userland"}, false}} {
		cmd := testCmd()
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		f := cmd.Flags()
		on, _ := f.GetBool("userland")
		cfg, err := testConfig(&testFlags{userland: on, limitFlags: limitFlags{memory: "1GiB", disk: "1GiB", outputLimit: "1MiB", pids: 10},
			phases: "test", timeoutInstall: "1m", timeoutImport: "1m", timeoutTest: "1m"}, filepath.Join(projects, "calc"))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.NoUserland != c.off {
			t.Errorf("%q: NoUserland = %v, want %v", c.args, cfg.NoUserland, c.off)
		}
	}
}

// TestTestNetworkFlag: --network is every phase's network, a
// --network-PHASE flag wins for its phase, and --index keeps the install
// phase's allow= of the index.
func TestTestNetworkFlag(t *testing.T) {
	calc := filepath.Join(projects, "calc")
	for _, c := range []struct {
		args []string
		want string // install import test
	}{
		{nil, "sinkhole sinkhole none"},
		{[]string{"--network", "none"}, "none none none"},
		{[]string{"--network", "sinkhole"}, "sinkhole sinkhole sinkhole"},
		{[]string{"--network", "none", "--network-import", "sinkhole"}, "none sinkhole none"},
		{[]string{"--network", "none", "--index", "http://127.0.0.1:9/simple/"}, "allow=127.0.0.1:9 none none"},
	} {
		cmd := testCmd()
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		f := cmd.Flags()
		get := func(n string) string { v, _ := f.GetString(n); return v }
		cfg, err := testConfig(&testFlags{network: get("network"), netImport: get("network-import"), index: get("index"),
			limitFlags: limitFlags{memory: "1GiB", disk: "1GiB", outputLimit: "1MiB", pids: 10},
			phases:     "install,import,test", timeoutInstall: "1m", timeoutImport: "1m", timeoutTest: "1m"}, calc)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		var got []string
		for _, p := range []string{"install", "import", "test"} {
			n, err := cfg.PhaseNetwork(p)
			if err != nil {
				t.Fatalf("%q: %s: %v", c.args, p, err)
			}
			got = append(got, cmp.Or(string(n), "none"))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%q: networks %q, want %q", c.args, g, c.want)
		}
	}
}

// A test name, note or finding with a newline or a line separator in it
// stays on its line of the summary.
func TestTestSummaryEscapesNames(t *testing.T) {
	rep := &pkgtest.Report{Target: "pkg\n", Status: "failed", Kind: "sdist", Isolation: "native",
		Phases: []*pkgtest.PhaseResult{{Name: "test", Status: pkgtest.StatusFailed, Note: "note\nPASSED", MoatStatus: moat.StatusExited,
			Findings: []moat.Finding{{Category: moat.CategoryExecution, Severity: moat.SeverityLow, Summary: "ran x\u2028y\nz"}}}},
		Tests: &pkgtest.Tests{Failed: 1, Failures: []string{"t::a\ntests: 5 passed, 0 failed"}},
	}
	rep.Findings = rep.Phases[0].Findings
	var b bytes.Buffer
	writeTestSummary(&b, rep)
	out := b.String()
	if strings.Count(out, "\n") != 6 || strings.Contains(out, "\u2028") || strings.Contains(out, "\ntests: 5") || strings.Contains(out, "\nPASSED") {
		t.Errorf("summary lines injected:\n%s", out)
	}
}
