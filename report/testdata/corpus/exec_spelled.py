# Run files the run wrote by names that spell their path another way
# (red team, session 22): through /proc/self/root, with // and ./ in it,
# and read a planted file so. The kernel and the hook say the path as
# passed; the report took /proc/self/root/tmp/... and //tmp/./... for
# programs of the image (a low "executed programs" before).
import os
import subprocess

os.makedirs("/tmp/.c", exist_ok=True)
for name in ("a", "b"):
    p = "/tmp/.c/" + name
    with open(p, "w") as f:
        f.write("#!/bin/sh\necho ran-%s\n" % name)
    os.chmod(p, 0o755)
for spelled in ("/proc/self/root/tmp/.c/a", "//tmp/./.c/b"):
    print(subprocess.run([spelled], capture_output=True, text=True).stdout.strip())
with open("/proc/self/root" + os.path.expanduser("~") + "/./.aws//credentials") as f:
    print(len(f.read()))
