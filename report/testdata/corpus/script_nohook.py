# A venv console script whose venv names a standard library of its own
# (pyvenv.cfg's home): the link is the runtime's interpreter, but it starts
# without the hook's loader. What ran it is the interpreter (by its hash);
# that it never said hello is the finding.
import os, shutil, subprocess, sys, sysconfig, venv

v = os.path.abspath("v")
venv.create(v, with_pip=False)
ver = "python%d.%d" % sys.version_info[:2]
fake = os.path.abspath("fakehome")
lib = os.path.join(fake, "lib", ver)
os.makedirs(os.path.join(fake, "bin"), exist_ok=True)
os.makedirs(os.path.join(lib, "lib-dynload"), exist_ok=True)
std = sysconfig.get_paths()["stdlib"]
shutil.copy(os.path.join(std, "os.py"), lib)
shutil.copytree(os.path.join(std, "encodings"), os.path.join(lib, "encodings"),
                ignore=shutil.ignore_patterns("__pycache__"))
with open(os.path.join(lib, "encodings", "__init__.py")) as f:
    src = f.read()
with open(os.path.join(lib, "encodings", "__init__.py"), "w") as f:
    end = "codecs.register(_alias_mbcs)\n"  # the package's own last line
    f.write(src[:src.index(end) + len(end)])
with open(os.path.join(v, "pyvenv.cfg"), "w") as f:
    f.write("home = %s\ninclude-system-site-packages = false\n" % os.path.join(fake, "bin"))
tool = os.path.join(v, "bin", "tool")
with open(tool, "w") as f:
    f.write("#!" + os.path.join(v, "bin", "python") + "\nimport sys\nprint(sys.prefix, sys.base_prefix)\n")
os.chmod(tool, 0o755)
print(subprocess.run([tool], capture_output=True, text=True).stdout.strip())
