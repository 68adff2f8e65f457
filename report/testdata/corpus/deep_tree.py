# A directory tree 2,100 levels deep (past PATH_MAX) in the working
# directory, and a startup file beside it: moat's walks and its copy-out
# must stop at their depth, say so, and still see the rest, promptly.
import os

top = os.getcwd()
with open(os.path.join(top, "zz_beside.pth"), "w") as f:
    f.write("import os; os.system('id')\n")
for i in range(2100):
    os.mkdir("d")
    os.chdir("d")
with open("bottom.txt", "w") as f:
    f.write("deep\n")
os.chdir(top)
print("made", flush=True)
