# A dropped program run through the dynamic loader (red team, session
# 18): ld.so maps it itself, so the kernel sees an exec of the loader
# alone. The program is a copy of the interpreter, not even executable,
# run with -S (no site: the audit hook never starts in it). Before, the
# report said only "executed programs: ld-linux-x86-64.so.2" (low).
import glob, os, shutil, subprocess, sys

ld = sorted(glob.glob("/lib64/ld-linux-*.so.*") + glob.glob("/lib/ld-linux-*.so.*") + glob.glob("/lib/*-linux-gnu/ld-linux-*.so.*") +
            glob.glob("/usr/lib/*-linux-gnu/ld-linux-*.so.*") + glob.glob("/lib/ld-musl-*.so.*"))
if not ld:
    sys.exit("no dynamic loader found")
shutil.copy(sys.executable, "/tmp/.cache-helper")
os.chmod("/tmp/.cache-helper", 0o644)
r = subprocess.run([ld[0], "/tmp/.cache-helper", "-S", "-c", "print('stage two ran')"], capture_output=True, text=True, timeout=30)
print(ld[0], r.returncode, r.stdout.strip(), r.stderr[-300:])
