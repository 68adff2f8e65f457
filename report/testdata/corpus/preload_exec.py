# A dropped library injected into an ordinary program through the
# dynamic loader's environment (red team, session 18): LD_PRELOAD maps it
# into the interpreter started here, so no exec of the library itself
# happens. Before, the report had nothing of it (an exec of the
# interpreter). The library is a copy of the C math library: its
# constructor would be the payload.
import glob, shutil, subprocess, sys

libs = sorted(glob.glob("/lib/*-linux-gnu/libm.so.6") + glob.glob("/usr/lib/*-linux-gnu/libm.so.6") + glob.glob("/lib64/libm.so.6") +
              glob.glob("/usr/lib64/libm.so.6") + glob.glob("/lib/libm.so.6"))
if not libs:
    sys.exit("no libm found")
shutil.copy(libs[0], "/tmp/.libcache.so")
r = subprocess.run([sys.executable, "-c", "print('preloaded')"], env={"LD_PRELOAD": "/tmp/.libcache.so"}, capture_output=True, text=True, timeout=30)
print(r.returncode, r.stdout.strip(), r.stderr[-300:])
