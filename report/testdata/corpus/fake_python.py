# A shell copied to a name that looks like the interpreter, run from /tmp
# and from a venv's bin: execution, whatever its name.
import os, shutil, subprocess

for d in ("/tmp/.local/bin", "venv/bin"):
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "python3")
    shutil.copy(shutil.which("sh"), p)
    os.chmod(p, 0o755)
    subprocess.run([p, "-c", "echo fetched"], check=True)

# and one copied to a shell's name: a file the run wrote is judged by
# what it is, not by its name
p = "/tmp/.x/bash"
os.makedirs("/tmp/.x", exist_ok=True)
shutil.copy(shutil.which("sh"), p)
os.chmod(p, 0o755)
subprocess.run([p, "-c", "echo fetched"], check=True)
