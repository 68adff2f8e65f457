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
                    "severity": r.get("issue_severity", ""), "text": (r.get("code") or "").strip().split("\n")[0][:300]})
    return res


def codeaudit():
    sys.path.insert(0, ca_dir)
    from codeaudit.api_interfaces import filescan
    data = filescan(src)
    if "Error" in data:
        if "no Python files" in data["Error"]:
            return []
        raise RuntimeError(data["Error"])
    res = []
    for info in (data.get("file_security_info") or {}).values():
        fp = info.get("FilePath", "")
        for entries in (info.get("sast_result") or {}).values():
            if not isinstance(entries, list):
                entries = [entries]
            for e in entries:
                code = e.get("code") or ""
                if isinstance(code, dict):
                    code = code.get(str(e.get("line")), "") or ""
                res.append({"file": rel(fp), "line": e.get("line", 0), "rule": e.get("validation", ""),
                            "name": str(e.get("validation", "")) + ": " + str(e.get("info", ""))[:200],
                            "severity": e.get("severity", ""), "text": str(code).strip().split("\n")[0][:300]})
    return res


for name in tools.split(","):
    start = time.time()
    try:
        out[name] = {"results": {"bandit": bandit, "codeaudit": codeaudit}[name]()}
    except Exception as e:  # an analyser's failure is reported, not fatal
        out[name] = {"error": "%s: %s" % (type(e).__name__, str(e)[:300]), "results": []}
    out[name]["ms"] = int((time.time() - start) * 1000)
sys.stdout.write("\n" + json.dumps({"tools": out}) + "\n")
