# A test suite that makes throwaway virtual environments in a temporary
# directory, runs their python and removes them before it ends, as
# virtualenv's and pip's own tests do: one linked, one copied. Each child
# writes and reads a file and reports back.
import json, shutil, subprocess, tempfile, venv

child = r"""
import json, os, sys, tempfile
with tempfile.NamedTemporaryFile("w+", suffix=".json", delete=False) as f:
    json.dump({"squares": [i * i for i in range(10)]}, f)
with open(f.name) as g:
    data = json.load(g)
os.unlink(f.name)
print(json.dumps({"sum": sum(data["squares"]), "venv": sys.prefix != sys.base_prefix}))
"""
for kw in ({}, {"symlinks": False}):
    tmp = tempfile.mkdtemp()
    venv.create(tmp + "/env", with_pip=False, **kw)
    out = subprocess.run([tmp + "/env/bin/python", "-c", child], capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(out) == {"sum": 285, "venv": True}, out
    shutil.rmtree(tmp)
print("ok")
