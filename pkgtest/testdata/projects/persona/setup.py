# An sdist that tells its machine apart phase by phase, as a sandbox check
# would: setup.py (install) and the package (import) print what they see.
import getpass
import hashlib
import os
import socket
import sys

from setuptools import setup

try:
    with open(os.path.expanduser("~/.aws/credentials"), "rb") as f:
        creds = hashlib.sha256(f.read()).hexdigest()
except OSError as e:
    creds = "none:%s" % e.errno
print("MOAT-PERSONA %s %s %s %s" % (socket.gethostname(), getpass.getuser(), os.path.expanduser("~"), creds), file=sys.stderr)

setup(name="persona", version="0.1", packages=["persona"])
