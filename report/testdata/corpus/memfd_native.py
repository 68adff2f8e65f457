# Load native code that is on no file system (red team, session 22): a
# copy of one of the runtime's own extension modules (as a dropped
# payload would be) written into a memfd, imported from /proc/self/fd,
# and another loaded through ctypes the same way. Nothing before: an
# exec of a memfd is high, a mapping of one was nothing.
import ctypes
import glob
import importlib.machinery
import importlib.util
import os
import sys

dynload = [p for p in sys.path if p.rstrip("/").endswith("lib-dynload")][0]
sos = [so for so in sorted(glob.glob(os.path.join(dynload, "*.so")))
       if os.path.basename(so).split(".")[0] not in sys.modules and os.path.basename(so).startswith("_")]


def memfd(src):
    fd = os.memfd_create("cache", 0)
    with open(src, "rb") as f:
        os.write(fd, f.read())
    return "/proc/self/fd/%d" % fd


name = os.path.basename(sos[0]).split(".")[0]
path = memfd(sos[0])
spec = importlib.util.spec_from_file_location(name, path, loader=importlib.machinery.ExtensionFileLoader(name, path))
mod = importlib.util.module_from_spec(spec)
print("imported", name, "from", mod.__file__)
ctypes.CDLL(memfd(sos[1]))
print("loaded", os.path.basename(sos[1]))
