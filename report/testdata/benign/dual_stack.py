# A test suite's server on an IPv6 socket that takes IPv4 too (dual
# stack, IPV6_V6ONLY off), and its client connecting to the IPv4
# loopback address mapped into IPv6. Nothing here is hidden: the native
# kernel witness says the mapped address as IPv4, the hook as passed
# (red team, session 22: a high evasion finding before).
import socket
import threading

srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
srv.bind(("::", 0))
srv.listen(1)
port = srv.getsockname()[1]


def serve():
    c, _ = srv.accept()
    c.sendall(c.recv(16).upper())
    c.close()


t = threading.Thread(target=serve)
t.start()
c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
c.connect(("::ffff:127.0.0.1", port))
c.sendall(b"ping")
assert c.recv(16) == b"PING"
t.join()
print("ok")
