# A payload that waits for the run to end: a double-forked daemon (a
# session of its own) that would read the credentials and send them once
# the sandbox's program has exited. moat kills it with the program, so
# what it would do later is in no report; the daemon itself is a finding.
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(30)
        open(os.path.expanduser("~/.aws/credentials")).read()
    os._exit(0)
print("parent exits")
