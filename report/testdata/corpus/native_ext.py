# Loads a compiled extension module from outside the Python runtime (here a
# copy of one of the runtime's own, as a dropped binary payload would be):
# the audit hook reports it as a native-import.
import glob
import importlib.util
import os
import shutil
import sys

dynload = [p for p in sys.path if p.rstrip("/").endswith("lib-dynload")]
for so in sorted(glob.glob(os.path.join(dynload[0], "*.so"))):
    name = os.path.basename(so).split(".")[0]
    if name not in sys.modules and name.startswith("_"):
        break
os.makedirs("/tmp/payload", exist_ok=True)
dst = shutil.copy(so, "/tmp/payload/")
spec = importlib.util.spec_from_file_location(name, dst)
mod = importlib.util.module_from_spec(spec)
print("loaded", name, "from", mod.__file__)
