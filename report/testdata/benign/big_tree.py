# An ordinary big tree: what `npm install` leaves in node_modules, 60,000
# small files in 3,000 packages (as a front-end project of a Python
# package's docs has), and a venv's site-packages beside it. Nothing in
# it is a finding, and the walk that diffs /work must not be cut.
import os

root = "node_modules"
n = 0
for p in range(3000):
    d = os.path.join(root, "pkg%04d" % p, "lib" if p % 2 else "dist")
    os.makedirs(d)
    with open(os.path.join(root, "pkg%04d" % p, "package.json"), "w") as f:
        f.write('{"name": "pkg%04d", "version": "1.0.%d"}\n' % (p, p % 7))
    n += 1
    for i in range(19):
        with open(os.path.join(d, "m%02d.js" % i), "w") as f:
            f.write("module.exports = %d;\n" % i)
        n += 1
site = "venv/lib/python3.11/site-packages"
for p in range(200):
    d = os.path.join(site, "lib%03d" % p)
    os.makedirs(d)
    for i in range(10):
        with open(os.path.join(d, "mod%d.py" % i), "w") as f:
            f.write("X = %d\n" % i)
        n += 1
print("files", n, flush=True)
