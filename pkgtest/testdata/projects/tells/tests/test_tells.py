# A test that looks for the cheap tells of moat while `moat test` runs it:
# it runs report/testdata/corpus/tells.py (copied beside it by the Go
# test) and fails naming every tell found.
import json, os, subprocess, sys


def test_no_tells():
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, os.path.join(here, "tells.py")], capture_output=True, text=True, check=True).stdout
    tells = json.loads(out)["tells"]
    assert tells == [], "\n".join(tells)
