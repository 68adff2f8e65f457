package pkgtest

// The Python run inside the sandbox. Paths are the sandbox's: /work is
// the working directory carried from phase to phase.
const (
	workDir    = "/work"
	venvDir    = "/work/.venv"
	venvPython = "/work/.venv/bin/python"
	moatDir    = "/work/.moat" // moat's files inside: report, junit
	junitPath  = "/work/.moat/junit.xml"
	reportPath = "/work/.moat/install-report.json"
	srcDir     = "/work/src"
	distDir    = "/work/dist"
	wheelDir   = "/work/wheelhouse"
)

// venvCode runs under the base interpreter: it makes the venv (with the
// system site-packages, so that the distribution's pytest, pip,
// setuptools and wheel are there offline), adds pytest launchers that use
// the venv's python, checks the venv runs, and unpacks an sdist (already
// validated on the host) for its tests. argv: [sdist-path-or-""].
const venvCode = `import os, subprocess, sys, tarfile, venv
venv.create("/work/.venv", system_site_packages=True, with_pip=False, symlinks=True)
for name in ("pytest", "py.test"):
    p = "/work/.venv/bin/" + name
    with open(p, "w") as f:
        f.write("#!/work/.venv/bin/python\nimport sys\nfrom pytest import console_main\nsys.exit(console_main())\n")
    os.chmod(p, 0o755)
os.makedirs("/work/.moat", exist_ok=True)
os.makedirs("/work/src", exist_ok=True)
out = subprocess.run(["/work/.venv/bin/python", "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True)
if out.returncode != 0 or out.stdout.strip() != "/work/.venv":
    sys.exit("moat: the venv does not run: %r %r" % (out.stdout, out.stderr))
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
// from RECORD.
const importCode = `import importlib, importlib.metadata as md, json, os, re, sys, sysconfig, traceback
def norm(n): return re.sub(r"[-_.]+", "-", n or "").lower()
site = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
want = None
try:
    with open("/work/.moat/install-report.json") as f:
        rep = json.load(f)
    want = {norm(i["metadata"]["name"]) for i in rep.get("install", []) if i.get("requested")}
except FileNotFoundError:
    pass
mods = []
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
if not mods:
    sys.exit("moat-import: no top-level module found in the installed distributions")
failed = []
for m in mods:
    try:
        importlib.import_module(m)
        print("moat-import: ok", m)
    except BaseException as e:
        traceback.print_exc()
        print("moat-import: FAILED", m, "-", type(e).__name__, file=sys.stderr)
        failed.append(m)
sys.exit(1 if failed else 0)
`
