# Bytecode poisoning hidden behind benign bytecode: 150 unchanged modules
# of the working directory compiled (each verified, low), then one more
# given a genuine header and another body. The diff keeps 100 suspects;
# the rest must not vanish.
import compileall
import glob
import importlib.util
import marshal
import py_compile

for m in sorted(glob.glob("m_*.py")):
    compileall.compile_file(m, quiet=2)
cache = importlib.util.cache_from_source("zz_target.py")
py_compile.compile("zz_target.py", cfile=cache, doraise=True)
with open(cache, "rb") as f:
    header = f.read(16)
with open(cache, "wb") as f:
    f.write(header + marshal.dumps(compile("import os\nos.system('id')\n", "zz_target.py", "exec")))
print("planted", cache)
