# A test that looks for the cheap tells of moat while `moat test` runs it:
# it runs report/testdata/corpus/tells.py (copied beside it by the Go
# test) and fails naming every tell found, but those known.txt (beside
# it, optional) names: the backend's documented ones, one prefix a line.
import json, os, subprocess, sys


def test_no_tells():
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, os.path.join(here, "tells.py")], capture_output=True, text=True, check=True).stdout
    try:
        with open(os.path.join(here, "known.txt")) as f:
            known = tuple(l for l in f.read().splitlines() if l)
    except OSError:
        known = ()
    tells = [t for t in json.loads(out)["tells"] if not t.startswith(known)]
    assert tells == [], "\n".join(tells)
