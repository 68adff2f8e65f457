# A test suite that writes small Python scripts and runs them directly, as
# CLI projects' tests do: "#!" the interpreter itself, and "#!/usr/bin/env
# python3" where there is an env, and a venv's console script, each also by
# a shell. Each prints what it computed.
import os, shutil, subprocess, sys, tempfile

d = tempfile.mkdtemp()
lines = ["#!" + sys.executable]
if shutil.which("env") and os.path.exists("/usr/bin/env"):
    lines.append("#!/usr/bin/env python3")
for i, first in enumerate(lines):
    p = os.path.join(d, "helper%d.py" % i)
    with open(p, "w") as f:
        f.write(first + "\nimport sys\nprint(sum(range(%d)))\n" % (10 + i))
    os.chmod(p, 0o755)
    out = subprocess.run([p], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == str(sum(range(10 + i))), out
    # The same started by a shell (a Makefile's or a test's shell=True):
    # dash execs a lone command itself, and forks for a redirection.
    # (Under names the hook never saw run: the shell's exec is the kernel's
    # alone.)
    if shutil.which("sh"):
        for form in ("lone", "redirected"):
            q = os.path.join(d, "%s%d" % (form, i))
            shutil.copy(p, q)
            os.chmod(q, 0o755)
        out = subprocess.run(os.path.join(d, "lone%d" % i), shell=True, capture_output=True, text=True, timeout=60, check=True).stdout
        assert out.strip() == str(sum(range(10 + i))), out
        o = os.path.join(d, "out%d.txt" % i)
        subprocess.run("%s > %s 2>&1" % (os.path.join(d, "redirected%d" % i), o), shell=True, timeout=60, check=True)
        with open(o) as f:
            assert f.read().strip() == str(sum(range(10 + i)))
# A venv's console script, as pip writes one: "#!" the venv's python,
# which the run made (a link to the interpreter, or a copy of it).
import venv
for name, kw in (("linked", {}), ("copied", {"symlinks": False})):
    v = os.path.join(d, name)
    venv.create(v, with_pip=False, **kw)
    tool = os.path.join(v, "bin", "tool")
    with open(tool, "w") as f:
        f.write("#!" + os.path.join(v, "bin", "python") + "\nimport sys\nprint(sys.prefix != sys.base_prefix)\n")
    os.chmod(tool, 0o755)
    out = subprocess.run([tool], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == "True", out
shutil.rmtree(d)
print("ok")
