# A payload that outlasts the run instead of the program: a double-forked
# daemon (a session of its own) that would act later, while the program
# itself sleeps past moat's --timeout. moat ends the run (not the program
# ending) and kills the daemon with it; the daemon is still a finding.
import os
import sys
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(300)
        open(os.path.expanduser("~/.aws/credentials")).read()
    os._exit(0)
os.wait()
print("daemon started", flush=True)
time.sleep(300)
sys.exit(3)
