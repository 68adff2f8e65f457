package scan

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/moattest"
)

func TestMain(m *testing.M) {
	native.Init() // the sandbox init re-executes this test binary
	os.Exit(m.Run())
}

// requireAnalysers returns the native backend, or skips naming what is
// missing (bandit, pandas and altair from Debian: .ci/setup-scan.sh); CI,
// which installs them, fails instead.
func requireAnalysers(t *testing.T) (moat.Backend, string) {
	t.Helper()
	b := moattest.RequireBackend(t, "native")
	ca, _ := filepath.Abs(filepath.Join("..", "third_party", "codeaudit"))
	for _, n := range Analysers {
		if why := Unavailable(n, Config{CodeAudit: ca}); why != "" {
			if moattest.Required("native") {
				t.Fatal(why)
			}
			t.Skip(why)
		}
	}
	return b, ca
}

// TestAnalysersContained: bandit and Python Code Audit run over a real
// sdist inside a native sandbox with no network; their results come
// back as low findings with file and line.
func TestAnalysersContained(t *testing.T) {
	b, ca := requireAnalysers(t)
	p := writeSdist(t, "anpkg-1.0.tar.gz", []member{
		{name: "anpkg-1.0/PKG-INFO", body: fmt.Sprintf(pkgInfo, "anpkg", "1.0")},
		{name: "anpkg-1.0/setup.py", body: "import os\nos.system('make ' + os.environ.get('X', ''))\nfrom setuptools import setup\nsetup(name='anpkg')\n"},
		{name: "anpkg-1.0/anpkg/__init__.py", body: "import pickle\n\ndef load(b):\n    return pickle.loads(b)\n\ndef run(s):\n    exec(s)\n"},
		{name: "anpkg-1.0/anpkg/net.py", body: "import socket\n\ndef serve():\n    s = socket.socket()\n    s.bind(('0.0.0.0', 8080))\n"},
	})
	r, err := Run(t.Context(), Config{Target: Target{Kind: KindSdist, Path: p, Root: "anpkg-1.0"}, Analysers: Analysers, Backend: b, CodeAudit: ca})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range r.Analysers {
		if a.Status != "ran" || a.Findings == 0 {
			t.Errorf("analyser %+v", a)
		}
	}
	for _, want := range []struct{ rule, where string }{
		{"bandit/B605", "setup.py:2:"}, {"bandit/B102", "anpkg/__init__.py:7:"}, {"bandit/B301", "anpkg/__init__.py:4:"},
		{"codeaudit/exec", "anpkg/__init__.py:7:"}, {"codeaudit/os.system", "setup.py:2:"},
	} {
		f := find(t, r, want.rule, want.where)
		if f.Severity != moat.SeverityLow || f.Evidence[0].Source != moat.SourceScan || !strings.Contains(f.Summary, strings.Split(want.rule, "/")[0]) {
			t.Errorf("%s: %+v", want.rule, f)
		}
	}
}
