package pkgtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOutcomeRewrite(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, src, want string }{
		{"benign conftest", "import pytest\n\n@pytest.fixture\ndef db():\n    return 1\n", ""},
		{"benign hook that reads", "def pytest_runtest_makereport(item, call):\n    if call.excinfo is not None:\n        item.failed_once = True\n", ""},
		{"outcome rewritten", "def pytest_runtest_makereport(item, call):\n    pass\n\ndef x(rep):\n    rep.outcome  = 'passed'\n", "sets a report's outcome"},
		{"comparison is not a rewrite", "def pytest_runtest_logreport(report):\n    if report.outcome == 'failed':\n        print(1)\n", ""},
		{"force_result", "def pytest_runtest_makereport(item, call):\n    o = yield\n    o.force_result(None)\n", "replaces a hook's result"},
		{"exit status", "def pytest_sessionfinish(session, exitstatus):\n    session.exitstatus = 0\n    session.testsfailed = 0\n", "changes the exit status"},
		{"terminal summary counts", "def pytest_terminal_summary(terminalreporter):\n    terminalreporter.stats.pop('failed', None)\n", "edits the summary's counts"},
		{"hook bound by assignment, outcome by setattr", "import pytest\n\ndef _w(item, call):\n    out = yield\n    rep = out.get_result()\n    if rep.failed:\n        setattr(rep, \"outcome\", \"passed\")\n\npytest_runtest_makereport = pytest.hookimpl(hookwrapper=True)(_w)\n", "sets a report's outcome"},
		{"outcome through __dict__", "class P:\n    def pytest_runtest_logreport(self, report):\n        report.__dict__['outcome'] = 'passed'\n", "sets a report's outcome"},
		{"pytest's class patched", "import _pytest.reports\n_pytest.reports.TestReport.failed = property(lambda self: False)\n", "patches pytest's own classes"},
		{"plugin registered, exit status by name", "def f(s):\n    setattr(s, 'exitstatus', 0)\nclass P:\n    pytest_sessionfinish = f\nconfig.pluginmanager.register(P())\n", "sets a result's attribute by name"},
		{"benign plugin registration", "def pytest_configure(config):\n    config.pluginmanager.register(object(), 'x')\n", ""},
		{"junit edited", "import atexit\ndef f():\n    p = '/work/reports/junit.xml'\n    open(p, 'w').write('<testsuite/>')\natexit.register(f)\n", "edits the JUnit XML"},
	} {
		if got := outcomeRewrite([]byte(c.src)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestScanOutcomeHooks(t *testing.T) {
	t.Parallel()
	stage := t.TempDir()
	hook := "def pytest_runtest_makereport(item, call):\n    r = (yield).get_result()\n    r.outcome = 'passed'\n"
	for p, s := range map[string]string{
		"src/conftest.py":   hook,
		"src/pkg/plugin.py": hook,
		".venv/lib/python3.11/site-packages/pytest_rerunfailures.py": hook, // a dependency: not the package's tree
		"src/ok.py": "x = 1\n",
	} {
		if err := os.MkdirAll(filepath.Join(stage, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(stage, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link to a hostile file is not followed.
	if err := os.Symlink("/etc/passwd", filepath.Join(stage, "src", "link.py")); err != nil {
		t.Fatal(err)
	}
	evs := scanOutcomeHooks(stage)
	if len(evs) != 2 || evs[0].Path != "/work/src/conftest.py" || evs[1].Path != "/work/src/pkg/plugin.py" {
		t.Fatalf("%+v", evs)
	}
}

// TestScanSitePlugins: in site-packages, what pytest or Python load by
// themselves is scanned (pytest11 entry points, .pth imports,
// sitecustomize), the rest not; links are not followed.
func TestScanSitePlugins(t *testing.T) {
	t.Parallel()
	stage := t.TempDir()
	hook := "def pytest_runtest_makereport(item, call):\n    r = (yield).get_result()\n    r.outcome = 'passed'\n"
	site := ".venv/lib/python3.11/site-packages/"
	for p, s := range map[string]string{
		site + "liar-1.0.dist-info/entry_points.txt": "[console_scripts]\nx = other:main\n\n[pytest11]\nliar = liar._plug:Plugin\n",
		site + "liar/__init__.py":                    "",
		site + "liar/_plug.py":                       hook,
		site + "zz_boot.pth":                         "# padding\n" + strings.Repeat("x\n", 600) + "import os, zz_helper; zz_helper.go()\n",
		site + "zz_helper.py":                        hook,
		site + "cr_boot.pth":                         "# a path file\rimport cr_helper\r", // "\r" ends a line for site.py
		site + "cr_helper.py":                        hook,
		site + "quiet.pth":                           "import sys; exec('def pytest_sessionfinish(session):\\n session.exitstatus = 0')\n",
		site + "rerun/__init__.py":                   hook, // not loaded by itself: a dependency's code
		site + "sitecustomize.py":                    "def pytest_terminal_summary(terminalreporter):\n    terminalreporter.stats.pop('failed', None)\n",
	} {
		if err := os.MkdirAll(filepath.Join(stage, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(stage, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A pytest11 module that is a link to a directory elsewhere is not followed.
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "__init__.py"), []byte(hook), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(stage, site, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stage, site, "linked-1.0.dist-info", "entry_points.txt"), nil, 0o644); err == nil {
		t.Fatal("the dist-info directory should not exist yet")
	}
	_ = os.MkdirAll(filepath.Join(stage, site, "linked-1.0.dist-info"), 0o755)
	_ = os.WriteFile(filepath.Join(stage, site, "linked-1.0.dist-info", "entry_points.txt"), []byte("[pytest11]\nl = linked\n"), 0o644)
	var got []string
	for _, e := range scanOutcomeHooks(stage) {
		got = append(got, e.Path+" | "+e.Detail)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"/work/" + site + "liar/_plug.py | sets a report's outcome (a module of liar._plug, loaded by pytest or Python by itself: a pytest11 entry point of liar-1.0.dist-info)",
		"/work/" + site + "zz_helper.py | sets a report's outcome (a module of zz_helper, loaded by pytest or Python by itself: imported by zz_boot.pth)",
		"/work/" + site + "cr_helper.py | sets a report's outcome (a module of cr_helper, loaded by pytest or Python by itself: imported by cr_boot.pth)",
		"/work/" + site + "quiet.pth | changes the exit status (code of a .pth file",
		"/work/" + site + "sitecustomize.py | edits the summary's counts",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in:\n%s", want, all)
		}
	}
	if strings.Contains(all, "rerun") || strings.Contains(all, "linked") || len(got) != 5 {
		t.Errorf("scanned what is not loaded by itself, or followed a link:\n%s", all)
	}
}

func TestTestMismatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		exit int
		t    Tests
		want bool
	}{
		{0, Tests{Passed: 3}, false},
		{1, Tests{Passed: 1, Failed: 2}, false},
		{0, Tests{Passed: 1, Failed: 2}, true},
		{1, Tests{Passed: 3}, true},
		{5, Tests{}, false},
	} {
		if _, got := testMismatch(c.exit, &c.t); got != c.want {
			t.Errorf("exit %d %+v: %v", c.exit, c.t, got)
		}
	}
}
