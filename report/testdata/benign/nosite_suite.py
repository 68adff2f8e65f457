# A test suite that starts `python -S` children, as build tools and
# CPython-style tests do (a clean interpreter, no site packages): each
# computes, writes and reads a temporary file, and reports back.
import json, subprocess, sys, tempfile

child = r"""
import json, os, sys, tempfile
with tempfile.NamedTemporaryFile("w+", suffix=".json", delete=False) as f:
    json.dump({"squares": [i * i for i in range(10)]}, f)
with open(f.name) as g:
    data = json.load(g)
os.unlink(f.name)
print(json.dumps({"sum": sum(data["squares"]), "no_site": sys.flags.no_site}))
"""
for flags in (["-S"], ["-S", "-E"], ["-S", "-s"]):
    out = subprocess.run([sys.executable, *flags, "-c", child], capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(out) == {"sum": 285, "no_site": 1}, out
with tempfile.TemporaryDirectory() as d:
    subprocess.run([sys.executable, "-S", "-m", "json.tool", "--help"], capture_output=True, timeout=60, check=True, cwd=d)
print("ok")
