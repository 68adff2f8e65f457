# A payload that outlasts the run through a limit: a double-forked daemon
# (a session of its own) that would act later, then children of the
# program's own session past moat's --pids (64 in the test). moat ends the
# run at the limit and kills the daemon with it; the daemon is still a
# finding, listed before the kill, however many children came before it.
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(300)
        open(os.path.expanduser("~/.aws/credentials")).read()
    os._exit(0)
os.wait()
print("daemon started", flush=True)
for _ in range(200):
    try:
        if os.fork() == 0:
            time.sleep(300)
            os._exit(0)
    except OSError:
        time.sleep(0.2)  # at the limit: moat ends the run
time.sleep(300)
