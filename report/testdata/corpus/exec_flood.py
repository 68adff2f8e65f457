# Fill the kernel's event budget with failing execve calls from a thread,
# then run the payload: its exec and connect must still be reported.
import os, socket, subprocess, threading
def flood():
    for i in range(3000):
        try:
            os.execv("/nonexistent/x%d" % i, ["x"])
        except OSError:
            pass
t = threading.Thread(target=flood)
t.start()
t.join()
subprocess.run(["/bin/sh", "-c", "cat /etc/shadow"], stderr=subprocess.DEVNULL)
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("203.0.113.7", 443))
except OSError as e:
    print("connect failed:", e)
