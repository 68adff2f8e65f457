# A server's configuration resolved as a test suite does (waitress's
# Adjustments: listen = "0.0.0.0:8080 *:8080"): getaddrinfo of the
# unspecified addresses, passive or not. glibc sorts the answers by
# connecting a datagram socket to each (RFC 3484; nothing is sent), to
# 0.0.0.0 and ::, this machine. gVisor's trace names them with an empty
# host (":8080": a medium connect and a high "seen by the kernel alone"
# before, session 24).
import socket

for host, flags in (("0.0.0.0", 0), ("::", 0), (None, socket.AI_PASSIVE), ("", socket.AI_PASSIVE)):
    try:
        print(host, len(socket.getaddrinfo(host, 8080, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, flags)))
    except socket.gaierror as e:
        print(host, e)
print("ok")
