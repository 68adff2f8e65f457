# moat's launcher's shape (moat test's trampoline, Spec.Launcher): the
# first process changes directory and execs the phase's program through
# sh -c. That exec is moat's, never the program's "ran shell commands".
import os, shutil

os.chdir("/tmp")
sh = shutil.which("sh")
os.execv(sh, [sh, "-c", "echo launched"])
