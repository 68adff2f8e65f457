# A program working in a directory whose path is 5,000 characters long:
# every event of the audit hook with a relative path asks for the working
# directory, which os.getcwd() answers past PATH_MAX by walking up the
# tree. The events must still come, bounded, naming the file.
import os

name = "p" * 99
for i in range(50):
    os.mkdir(name)
    os.chdir(name)
for i in range(200):
    with open("marker%d.txt" % i, "w") as f:
        f.write("x")
print("done", len(name) * 50 + 50, flush=True)
# From there a relative path climbs back out: the hook names where it
# lands (the working directory's own ".." resolved), and a program run by
# a relative path is named whole by the kernel's side too.
with open("../" * 50 + "climbed.txt", "w") as f:
    f.write("x")
import hashlib, shutil, subprocess, sys
os.symlink(sys.executable, "py")
subprocess.run(["./py", "-c", "pass"])
# A binary dropped there and run by its relative name: named from /work
# (cut) and hashed, though its whole name is past PATH_MAX. (The
# containers' /work is noexec: there the attempt is what moat sees.)
shutil.copy(os.path.realpath(sys.executable), "tru")
os.chmod("tru", 0o755)
print("tru_sha", hashlib.sha256(open("tru", "rb").read()).hexdigest(), flush=True)
try:
    subprocess.run(["./tru", "-c", "pass"])
except OSError as e:
    print("tru", e.strerror)
print("climbed", flush=True)
