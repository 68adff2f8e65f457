# A test suite that makes virtual environments and runs their python, as
# tox and nox do (kept in the project, .tox/): one without the system's
# site packages (linked), one copied, one with them. Each child writes and
# reads a file and reports back. (On gVisor, a venv deleted before the run
# ends cannot be hashed: its python stays "a file the run wrote".)
import json, subprocess, sys, tempfile, venv

child = r"""
import json, os, sys, tempfile
with tempfile.NamedTemporaryFile("w+", suffix=".json", delete=False) as f:
    json.dump({"squares": [i * i for i in range(10)]}, f)
with open(f.name) as g:
    data = json.load(g)
os.unlink(f.name)
print(json.dumps({"sum": sum(data["squares"]), "venv": sys.prefix != sys.base_prefix}))
"""
d = ".venvs"
if True:
    for name, kw in (("linked", {}), ("copied", {"symlinks": False}), ("system", {"system_site_packages": True})):
        venv.create(d + "/" + name, with_pip=False, **kw)
        out = subprocess.run([d + "/" + name + "/bin/python", "-c", child], capture_output=True, text=True, timeout=60, check=True).stdout
        assert json.loads(out) == {"sum": 285, "venv": True}, out
print("ok")
