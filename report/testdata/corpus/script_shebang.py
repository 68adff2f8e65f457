# Scripts the run wrote, run directly, whose "#!" is not the runtime's
# interpreter as the kernel takes it: a dropped binary named python3 as the
# interpreter, and the interpreter through /proc/self/root (a path the
# program's own link could have made anything).
import os, shutil, subprocess, sys

os.makedirs("drop", exist_ok=True)
shutil.copy(os.path.realpath(shutil.which("sh")), "drop/python3")
os.chmod("drop/python3", 0o755)
for name, first, body in (("viaDrop", "#!" + os.path.abspath("drop/python3"), "echo from-viaDrop"),
                          ("viaProc", "#!/proc/self/root" + sys.executable, "print('from-viaProc')")):
    with open(name, "w") as f:
        f.write(first + "\n" + body + "\n")
    os.chmod(name, 0o755)
    subprocess.run(["./" + name])
print("done")
