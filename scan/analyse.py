# moat scan's analyser driver: runs inside a moat sandbox with no network.
# argv: KIND TARGET TOOLS CODEAUDIT_DIR SDIST_ROOT
# Opens the archive here (moat validated it on the host first), runs each
# analyser over the package's files and prints one JSON line:
# {"tools": {NAME: {"error": ..., "results": [{file, line, rule, name, severity, text}], "ms": N}}}
import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile

kind, target, tools, ca_dir, root = sys.argv[1:6]
src = target
if kind in ("sdist", "wheel"):
    src = "/tmp/src"
    os.makedirs(src)
    if target.endswith((".whl", ".zip")):
        with zipfile.ZipFile(target) as z:
            z.extractall(src)
    else:
        with tarfile.open(target) as t:
            if hasattr(tarfile, "data_filter"):
                t.extractall(src, filter="data")
            else:
                t.extractall(src)
    if root:
        src = os.path.join(src, root)
src = os.path.realpath(src)


def rel(p):
    p = os.path.realpath(os.path.join(src, p)) if not os.path.isabs(p) else os.path.realpath(p)
    return os.path.relpath(p, src)


out = {}
_lines = {}


def line_of(path, n):
    # the line itself, read here: the analysers' snippets are HTML or
    # numbered excerpts
    try:
        if path not in _lines:
            with open(path, "rb") as f:
                _lines[path] = f.read(4 << 20).decode("utf-8", "replace").split("\n")
        return _lines[path][n - 1].strip()[:300]
    except Exception:
        return ""


def bandit():
    p = subprocess.run([sys.executable, "-m", "bandit", "-r", "-f", "json", "-q", src],
                       capture_output=True, text=True, errors="replace")
    try:
        data = json.loads(p.stdout)
    except ValueError:
        raise RuntimeError("bandit exited %d: %s" % (p.returncode, p.stderr.strip()[-300:]))
    res = []
    for r in data.get("results", []):
        res.append({"file": rel(r.get("filename", "")), "line": r.get("line_number", 0),
                    "rule": r.get("test_id", ""), "name": r.get("test_name", "") + ": " + r.get("issue_text", ""),
                    "severity": r.get("issue_severity", ""), "text": line_of(r.get("filename", ""), r.get("line_number", 0))})
    return res


def codeaudit():
    if not os.path.isfile(os.path.join(ca_dir, "codeaudit", "__init__.py")):
        raise RuntimeError("no codeaudit in %r" % ca_dir)
    sys.path.insert(0, ca_dir)
    from codeaudit.api_interfaces import filescan
    data = filescan(src)
    infos = list((data.get("file_security_info") or {}).values())
    if "Error" in data:
        if "no Python files" not in data["Error"]:
            raise RuntimeError(data["Error"])
        # A directory of one Python file: codeaudit scans it as a file.
        for dirpath, dirs, files in os.walk(src):
            for f in files:
                if f.endswith(".py"):
                    one = filescan(os.path.join(dirpath, f))
                    infos += list((one.get("file_security_info") or {}).values())
    res = []
    for info in infos:
        fp = info.get("FilePath", "")
        for entries in (info.get("sast_result") or {}).values():
            if not isinstance(entries, list):
                entries = [entries]
            for e in entries:
                res.append({"file": rel(fp), "line": e.get("line", 0), "rule": e.get("validation", ""),
                            "name": str(e.get("validation", "")) + ": " + str(e.get("info", ""))[:200],
                            "severity": e.get("severity", ""), "text": line_of(fp, e.get("line", 0))})
    return res


for name in tools.split(","):
    start = time.time()
    try:
        out[name] = {"results": {"bandit": bandit, "codeaudit": codeaudit}[name]()}
    except Exception as e:  # an analyser's failure is reported, not fatal
        out[name] = {"error": "%s: %s" % (type(e).__name__, str(e)[:300]), "results": []}
    out[name]["ms"] = int((time.time() - start) * 1000)
sys.stdout.write("\n" + json.dumps({"tools": out}) + "\n")
