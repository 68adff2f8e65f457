# A program that runs a binary through a descriptor, as droppers do with a
# memfd: exec of /proc/self/fd/N, where /proc/self is the caller's.
import os, shutil, subprocess

src = shutil.which("true") or "/bin/true"
fd = os.memfd_create("x", 0)
with open(src, "rb") as f:
    os.write(fd, f.read())
r = subprocess.run(["/proc/self/fd/%d" % fd], pass_fds=(fd,))
print("exit", r.returncode)
