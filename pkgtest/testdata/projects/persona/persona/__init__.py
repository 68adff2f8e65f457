import getpass
import hashlib
import os
import socket
import sys

try:
    with open(os.path.expanduser("~/.aws/credentials"), "rb") as f:
        creds = hashlib.sha256(f.read()).hexdigest()
except OSError as e:
    creds = "none:%s" % e.errno
print("MOAT-PERSONA %s %s %s %s" % (socket.gethostname(), getpass.getuser(), os.path.expanduser("~"), creds), file=sys.stderr)
