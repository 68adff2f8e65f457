# Run files the run wrote by names through /proc (red team, session 22):
# /proc/self/cwd/a from their directory, /proc/self/fd/N/b through a
# directory descriptor. A low "executed programs" on gVisor and the
# containers before, nothing on native (its witness took the exec for a
# failed one: it resolves no magic link).
import os
import subprocess

os.makedirs("/tmp/.d", exist_ok=True)
for name in ("a", "b"):
    p = "/tmp/.d/" + name
    with open(p, "w") as f:
        f.write("#!/bin/sh\necho ran-%s\n" % name)
    os.chmod(p, 0o755)
os.chdir("/tmp/.d")
print(subprocess.run(["/proc/self/cwd/a"], capture_output=True, text=True).stdout.strip())
dfd = os.open("/tmp/.d", os.O_RDONLY | os.O_DIRECTORY)
print(subprocess.run(["/proc/self/fd/%d/b" % dfd], capture_output=True, text=True, pass_fds=(dfd,)).stdout.strip())
