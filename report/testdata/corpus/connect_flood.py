# Fill the kernel's connect budget with refused connects to loopback
# ports, then run the payload: its exec and connect must still be
# reported, and the flood counted.
import os, socket, subprocess
for port in range(1, 2001):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        pass
    s.close()
subprocess.run(["/bin/sh", "-c", "cat /etc/shadow"], stderr=subprocess.DEVNULL)
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("203.0.113.7", 443))
except OSError as e:
    print("connect failed:", e)
