# A test suite that writes small Python scripts and runs them directly, as
# CLI projects' tests do: "#!" the interpreter itself, and "#!/usr/bin/env
# python3" where there is an env. Each prints what it computed.
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
shutil.rmtree(d)
print("ok")
