package pkgtest

// The Python run inside the sandbox. Paths are the sandbox's: /work is
// the working directory carried from phase to phase.
const (
	workDir    = "/work"
	venvDir    = "/work/.venv"
	venvPython = "/work/.venv/bin/python"
	// moat's files inside (pip's report, the JUnit XML), named as a CI
	// job names its own: nothing in the sandbox says moat.
	reportsDir = "reports"
	junitPath  = "/work/reports/junit.xml"
	reportPath = "/work/reports/install-report.json"
	srcDir     = "/work/src"
	distDir    = "/work/dist"
	wheelDir   = "/work/wheelhouse"
)

// venvCode runs under the base interpreter: it makes the venv (with the
// system site-packages, so that the distribution's pytest, pip,
// setuptools and wheel are there offline), adds pytest launchers that use
// the venv's python, checks the venv has one, and unpacks an sdist (already
// validated on the host) for its tests. argv: [sdist-path-or-""].
const venvCode = `import os, sys, tarfile, venv
EXDEV_SHIM = """import errno, os, shutil, uuid
_rename, _replace = os.rename, os.replace
def _wrap(f):
    def move(src, dst, *a, **k):
        try:
            return f(src, dst, *a, **k)
        except OSError as e:
            if e.errno != errno.EXDEV or a or k:
                raise
        src, dst = os.fspath(src), os.fspath(dst)
        if os.path.isdir(src) and not os.path.islink(src):
            if os.path.isdir(dst) and not os.path.islink(dst):
                os.rmdir(dst)
            shutil.copytree(src, dst, symlinks=True)
            shutil.rmtree(src)
            return None
        tmp = os.path.join(os.path.dirname(os.path.abspath(dst)), ".tmp" + uuid.uuid4().hex[:8])
        shutil.copy2(src, tmp, follow_symlinks=False)
        _replace(tmp, dst)
        os.unlink(src)
    return move
os.rename, os.replace = _wrap(_rename), _wrap(_replace)
"""
venv.create("/work/.venv", system_site_packages=True, with_pip=False, symlinks=True)
for name in ("pytest", "py.test"):
    p = "/work/.venv/bin/" + name
    with open(p, "w") as f:
        f.write("#!/work/.venv/bin/python\nimport sys\nfrom pytest import console_main\nsys.exit(console_main())\n")
    os.chmod(p, 0o755)
os.makedirs("/work/reports", exist_ok=True)
os.makedirs("/work/src", exist_ok=True)
# The venv's python is checked without running it: this phase is moat's
# own code, and running a file it has just written would be a finding of
# the behaviour report. The install phase runs it first.
exe = os.path.realpath("/work/.venv/bin/python")
if not os.access(exe, os.X_OK) or not os.path.isfile("/work/.venv/pyvenv.cfg"):
    sys.exit("moat: the venv has no python: %r" % exe)
# Stopgap: a sandbox whose Landlock lacks the REFER right refuses every
# cross-directory rename with EXDEV, which breaks setuptools' wheel build.
# Only then, os.rename and os.replace fall back to copy-and-delete.
# The shim is named as virtualenv names its own start-up shim.
import shutil, tempfile
probe = tempfile.mkdtemp()
os.makedirs(probe + "/a"); os.makedirs(probe + "/b")
open(probe + "/a/f", "w").close()
try:
    os.rename(probe + "/a/f", probe + "/b/f")
except OSError as e:
    if e.errno != 18:
        raise
    site = "/work/.venv/lib/python%d.%d/site-packages" % sys.version_info[:2]
    with open(site + "/_virtualenv.py", "w") as f:
        f.write(EXDEV_SHIM)
    with open(site + "/_virtualenv.pth", "w") as f:
        f.write("import _virtualenv\n")
    print("moat: this sandbox refuses cross-directory renames (EXDEV): os.rename/os.replace fall back to copying in the venv")
finally:
    shutil.rmtree(probe, ignore_errors=True)
if len(sys.argv) > 1 and sys.argv[1]:
    with tarfile.open(sys.argv[1]) as t:
        if hasattr(tarfile, "data_filter"):
            t.extractall("/work/src", filter="data")
        else:
            t.extractall("/work/src")
print("moat: venv /work/.venv with python %s" % sys.version.split()[0])
`

// trampoline runs under the base interpreter (-I -S) and replaces itself
// with a program of the venv: argv is [cwd, program, args...]; a program
// "sh" means "run args[0] as a shell command", with the venv's bin first
// on PATH.
const trampoline = `import os, sys
os.chdir(sys.argv[1])
a = sys.argv[2:]
if a[0] == "sh":
    for sh in ("/usr/bin/sh", "/bin/sh"):
        if os.path.exists(sh):
            a = [sh, "-c", a[1]]
            break
    else:
        import shlex
        a = shlex.split(a[1])
os.execvp(a[0], a)
`

// importCode runs under the venv's python and imports each top-level
// module of the distributions the install phase asked for (pip's
// --report, "requested"), or of every distribution in the venv when
// there is no report. Top-level modules come from top_level.txt, else
// from RECORD. Then it imports their submodules (at most 300, for 20 s;
// __main__ and test modules left out), whose failures do not fail the
// phase: a payload in pkg.once runs only when pkg.once is imported. Then
// it gives threads the imports started up to 5 s to finish: a payload
// in a daemon thread would die with the interpreter.
const importCode = `import importlib, importlib.metadata as md, json, os, re, sys, sysconfig, traceback
def norm(n): return re.sub(r"[-_.]+", "-", n or "").lower()
site = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
want = None
try:
    with open("/work/reports/install-report.json") as f:
        rep = json.load(f)
    want = {norm(i["metadata"]["name"]) for i in rep.get("install", []) if i.get("requested")}
except FileNotFoundError:
    pass
mods, owner = [], {}
for d in md.distributions():
    try:
        loc = os.path.realpath(str(d.locate_file("")))
    except Exception:
        continue
    if loc not in site:
        continue  # only what was installed into the venv
    if want is not None and norm(d.metadata["Name"]) not in want:
        continue
    top = (d.read_text("top_level.txt") or "").split()
    if not top:
        for f in d.files or []:
            p = f.parts
            if not p or p[0] in ("..", "__pycache__") or p[0].endswith((".dist-info", ".egg-info", ".data", ".pth")):
                continue
            if len(p) == 1:
                if p[0].endswith(".py"):
                    top.append(p[0][:-3])
                elif p[0].endswith(".so"):
                    top.append(p[0].split(".")[0])
            else:
                top.append(p[0])
    for m in top:
        if m.isidentifier() and m not in mods:
            mods.append(m)
            owner[m] = d.metadata["Name"]
if not mods:
    sys.exit("import-check: no top-level module found in the installed distributions")
failed, ok = {}, set()
for m in mods:
    try:
        importlib.import_module(m)
        print("import-check: ok", m)
        ok.add(m)
    except BaseException as e:
        traceback.print_exc()
        failed[m] = e
# An ImportError of one top-level module, when another of the same
# distribution imported, is an optional part that is not there (PyYAML's
# _yaml without its C extension), as on any machine: said, not a failure.
for m, e in failed.items():
    if isinstance(e, ImportError) and any(owner.get(o) == owner.get(m) for o in ok):
        print("import-check: optional module not importable", m, "-", type(e).__name__, file=sys.stderr)
    else:
        print("import-check: FAILED", m, "-", type(e).__name__, file=sys.stderr)
failed = [m for m, e in failed.items() if not (isinstance(e, ImportError) and any(owner.get(o) == owner.get(m) for o in ok))]
import pkgutil, threading, time
end, n = time.monotonic() + 20, 0
for m in mods:
    pkg = sys.modules.get(m)
    if pkg is None or not hasattr(pkg, "__path__"):
        continue
    try:
        subs = [i.name for i in pkgutil.walk_packages(pkg.__path__, m + ".", onerror=lambda name: None)]
    except BaseException:
        continue
    for s in subs:
        parts = s.split(".")
        if parts[-1] == "__main__" or any(p in ("test", "tests", "testing", "conftest") or p.startswith("test_") for p in parts[1:]):
            continue
        if n >= 300 or time.monotonic() > end:
            break
        n += 1
        try:
            importlib.import_module(s)
        except BaseException as e:
            print("import-check: submodule not imported", s, "-", type(e).__name__, file=sys.stderr)
end = time.monotonic() + 5
while time.monotonic() < end and any(t is not threading.main_thread() and t.is_alive() for t in threading.enumerate()):
    time.sleep(0.1)
sys.exit(1 if failed else 0)
`
