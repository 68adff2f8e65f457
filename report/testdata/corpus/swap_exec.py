# A dropped binary run, then the interpreter's copy put in its place (a
# rename) while it runs, or the moment it starts: read after the run, the
# file is "the interpreter", and the dropped binary would never have been
# a finding. What ran is what counts.
import os, shutil, subprocess, sys
import time

sh = os.path.realpath(shutil.which("sh"))
for name, wait in (("fetcher", 0.3), ("updater", 0)):
    shutil.copy(sh, name)
    os.chmod(name, 0o755)
    shutil.copy(sys.executable, name + ".new")
    p = subprocess.Popen(["./" + name, "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo from-" + name])
    time.sleep(wait)
    os.rename(name + ".new", name)
    p.wait()
print("done")
