# Benign: a build step and a test that compile the project's own,
# unchanged sources, as CI jobs and test suites do: compileall (with the
# optimization levels too), py_compile, and a child interpreter that
# switches sys.dont_write_bytecode back off (as a test of caching does)
# and imports a module, writing its cache. Each .pyc is what its source
# compiles to: no finding above low. (A child under -S or -I would also
# write its cache, but it runs without moat's hook: an evasion finding of
# its own, docs/report.md.)
import compileall
import os
import py_compile
import subprocess
import sys

ok = compileall.compile_dir("pkg", quiet=1) if os.path.isdir("pkg") else True
ok &= compileall.compile_file("mod.py", quiet=1, optimize=2)
ok &= compileall.compile_file("mod.py", quiet=1, optimize=1)
py_compile.compile("mod.py", doraise=True)
child = subprocess.run([sys.executable, "-c", "import sys; sys.dont_write_bytecode = False; import mod2; print(mod2.VALUE)"],
                       capture_output=True, text=True)
print("compiled", bool(ok), child.returncode, child.stdout.strip())
