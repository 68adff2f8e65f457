# A dropped library injected through LD_PRELOAD buried behind thousands
# of environment variables (the kernel's side read the first 512 of an
# exec's environment, gVisor's trace what the Sentry printed of it): the
# library must still be named, or the exec must be called unread.
import glob, shutil, subprocess, sys

libs = sorted(glob.glob("/lib/*-linux-gnu/libm.so.6") + glob.glob("/usr/lib/*-linux-gnu/libm.so.6") + glob.glob("/lib64/libm.so.6") +
              glob.glob("/usr/lib64/libm.so.6") + glob.glob("/lib/libm.so.6"))
if not libs:
    sys.exit("no libm found")
shutil.copy(libs[0], "/tmp/.libcache.so")
env = {"V%05d" % i: "x" for i in range(20000)}
env["LD_PRELOAD"] = "/tmp/.libcache.so"
r = subprocess.run([sys.executable, "-c", "print('preloaded')"], env=env, capture_output=True, text=True, timeout=30)
print(r.returncode, r.stdout.strip(), r.stderr[-300:])
