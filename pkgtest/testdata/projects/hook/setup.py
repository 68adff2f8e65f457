# An sdist whose setup.py runs code at install time, as a malicious one
# would: it tries to plant a file in root's home and says so.
import os
import sys

from setuptools import setup

try:
    with open("/root/pwned-by-setup", "w") as f:
        f.write("pwned\n")
    print("MOAT-HOOK-MARKER: wrote /root/pwned-by-setup", file=sys.stderr)
except OSError as e:
    print("MOAT-HOOK-MARKER: could not write /root/pwned-by-setup:", e, file=sys.stderr)
print("MOAT-HOOK-MARKER: setup.py ran as uid %d" % os.getuid(), file=sys.stderr)

setup(name="hook", version="0.1", packages=["hook"])
