package report

import "testing"

// TestLaterCode: the places beyond rc files, crontabs and autostart
// entries where a file runs code later, and the same places as an
// ordinary `git init`, ssh or git configuration leaves them (no finding).
// data is as the diff keeps it (audit.Clean's escaping).
func TestLaterCode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		path, data string
		notWhole   bool
		want       bool
	}{
		{"/home/a/.config/pip/pip.conf", `[global]\x0aindex-url = http://203.0.113.7/simple\x0a`, false, true},
		{"/home/a/.pip/pip.conf", "", false, true},
		{"/work/.venv/pip.conf", "", false, true},
		{"/home/a/.pydistutils.cfg", "", false, true},
		{"/work/r/.git/hooks/post-checkout", `#!/bin/sh`, false, true},
		{"/work/r/.git/hooks/pre-commit.sample", `#!/bin/sh`, false, false},
		{"/home/a/.gitconfig", `[core]\x0a\x09hooksPath = /tmp/.h\x0a`, false, true},
		{"/home/a/.gitconfig", `[core]\x0d\x09FSMonitor=/tmp/m`, false, true},
		{"/home/a/.config/git/config", `[alias]\x0a\x09co = "!sh -c id"`, false, true},
		{"/home/a/.gitconfig", `[include]\x0a\x09path = /tmp/x`, false, true},
		{"/work/r/.git/config", `[core]\x0a\x09repositoryformatversion = 0\x0a\x09filemode = true\x0a\x09bare = false\x0a\x09logallrefupdates = true\x0a`, false, false},
		{"/work/r/.git/config", `[core]\x0a\x09bare = false\x0a`, true, true},
		{"/home/a/.gitconfig", `[user]\x0a\x09name = x\x0a\x09email = x@y\x0a`, false, false},
		{"/home/a/.ssh/config", `Host *\x0a  ProxyCommand sh -c id\x0a`, false, true},
		{"/home/a/.ssh/config", `Match host x exec "id"`, false, true},
		{"/home/a/.ssh/config", `Host gh\x0a  HostName github.com\x0a  User git\x0a`, false, false},
		{"/home/a/.ssh/rc", "", false, true},
		{"/home/a/.ssh/known_hosts", "", false, false},
		{"/home/a/.local/bin/git", "", false, true},
		{"/home/a/.ipython/profile_default/startup/00-x.py", "", false, true},
		{"/home/a/.ipython/profile_default/history.sqlite", "", false, false},
		{"/home/a/.jupyter/jupyter_server_config.py", "", false, true},
		{"/home/a/.config/fish/conf.d/x.fish", "", false, true},
		{"/home/a/.bash_aliases", "", false, true},
		{"/home/a/.config/environment.d/50-x.conf", "", false, true},
		{"/work/v/site-packages/sitecustomize/__init__.py", "", false, true},
		{"/work/v/site-packages/usercustomize.pyc", "", false, true},
		{"/work/v/site-packages/sitecustomize.cpython-311-x86_64-linux-gnu.so", "", false, true},
		{"/work/v/site-packages/mypkg/__init__.py", "", false, false},
		{"/work/README.md", "", false, false},
		// red team, session 18: what other tools run later
		{"/home/a/.bashrc.d/10-tools.sh", "", false, true},
		{"/home/a/.bash_completion", "", false, true},
		{"/home/a/.local/share/bash-completion/completions/git", "", false, true},
		{"/home/a/.envrc", "", false, true},
		{"/work/.envrc", "", false, true},
		{"/home/a/.config/direnv/direnvrc", "", false, true},
		{"/home/a/.vimrc", "", false, true},
		{"/home/a/.config/nvim/init.lua", "", false, true},
		{"/home/a/.emacs", "", false, true},
		{"/home/a/.emacs.d/init.el", "", false, true},
		{"/home/a/.tmux.conf", "", false, true},
		{"/home/a/.gdbinit", "", false, true},
		{"/home/a/.psqlrc", "", false, true},
		{"/home/a/.hgrc", "", false, true},
		{"/home/a/.aws/config", `[profile ci]
credential_process = /bin/sh -c id
`, false, true},
		{"/home/a/.aws/config", `[default]
region = eu-west-1
`, false, false},
		{"/home/a/.docker/cli-plugins/docker-compose", "", false, true},
		{"/home/a/.local/share/jupyter/kernels/python3/kernel.json", "", false, true},
		{"/work/.vscode/tasks.json", `{"tasks": [{"runOptions": {"runOn": "folderOpen"}}]}`, false, true},
		{"/work/.vscode/tasks.json", `{"tasks": [{"label": "build"}]}`, false, false},
		{"/home/a/.local/share/applications/firefox.desktop", "", false, true},
		{"/home/a/.config/mimeapps.list", "", false, true},
		{"/home/a/.npmrc", "", false, true},
		{"/home/a/.condarc", "", false, true},
		{"/home/a/.config/uv/uv.toml", "", false, true},
		{"/home/a/.config/pypoetry/config.toml", "", false, true},
		{"/home/a/.cargo/config.toml", "", false, true},
		{"/work/.pre-commit-config.yaml", "", false, true},
		{"/work/conftest.py", "", false, true},
		{"/work/tests/conftest.py", "", false, true},
		{"/home/a/conftest.py", "", false, true},
		{"/tmp/pytest-of-a/pytest-0/test_x0/conftest.py", "", false, false},
		{"/home/a/.local/lib/python3.11/site-packages/six.py", "", false, true},
		{"/home/a/.local/lib/python3.11/site-packages/requests/__init__.py", "", false, true},
		{"/home/a/.local/lib/python3.11/site-packages/requests/api.py", "", false, false},
		{"/home/a/.local/lib/python3.11/site-packages/six-1.16.0.dist-info/RECORD", "", false, false},
		{"/work/json.py", "", false, true},
		{"/work/email/__init__.py", "", false, true},
		{"/work/test.py", "", false, false},
		{"/work/mymod.py", "", false, false},
		{"/work/src/json.py", "", false, false},
	} {
		if got := laterCode(c.path, c.data, c.notWhole) != ""; got != c.want {
			t.Errorf("laterCode(%q, %q, %v) = %v, want %v", c.path, c.data, c.notWhole, got, c.want)
		}
	}
}

// TestStartupPath: a pyvenv.cfg whose home is a writable directory other
// than the run's interpreter's, and any ._pth file, are persistence; a
// venv made from the run's interpreter, or from one in a read-only
// place, is not.
func TestStartupPath(t *testing.T) {
	t.Parallel()
	interp := map[string]bool{"/home/a/.pyenv/versions/3.12.1/bin": true}
	for _, c := range []struct {
		path, data string
		notWhole   bool
		want       bool
	}{
		{"/work/.venv/pyvenv.cfg", `home = /usr/bin\x0ainclude-system-site-packages = true\x0aversion = 3.11.2\x0a`, false, false},
		{"/work/.venv/pyvenv.cfg", `home = /work/.venv/.cache/bin\x0ainclude-system-site-packages = true\x0a`, false, true},
		{"/work/.venv/pyvenv.cfg", `version = 3.11.2\x0aHOME=/tmp/x/bin\x0a`, false, true},
		{"/tmp/v/pyvenv.cfg", `home = /home/a/.pyenv/versions/3.12.1/bin\x0a`, false, false},
		{"/tmp/v/pyvenv.cfg", `home = /home/a/.pyenv/versions/3.12.1/bin/../../x/bin\x0a`, false, true},
		{"/tmp/v/pyvenv.cfg", `home = bin\x0a`, false, true},
		{"/tmp/v/pyvenv.cfg", `version = 3.11.2\x0a`, true, true},
		{"/work/.venv/bin/python._pth", "", false, true},
		{"/tmp/x/python3.11._pth", "", false, true},
	} {
		if got := startupPath(c.path, c.data, c.notWhole, interp) != ""; got != c.want {
			t.Errorf("startupPath(%q, %q, %v) = %v, want %v", c.path, c.data, c.notWhole, got, c.want)
		}
	}
}

// TestPthHasCode: an import line after any character site.py ends a
// line at (Python 3.11's universal newlines, 3.13's splitlines).
func TestPthHasCode(t *testing.T) {
	t.Parallel()
	for data, want := range map[string]bool{
		`import os`:           true,
		`# x\x0aimport os`:    true,
		`# x\x0dimport os`:    true,
		`# x\x0bimport os`:    true,
		`# x\x0cimport os`:    true,
		`# x\x1eimport os`:    true,
		`# x\x85import os`:    true,
		`# x\u2028import os`:  true,
		"\ufeffimport os":     true,
		`import\x09os`:        true,
		`../lib\x0d/some/dir`: false,
		`# x import os`:       false,
		`importlib-thing`:     false,
	} {
		if got := pthHasCode(data); got != want {
			t.Errorf("pthHasCode(%q) = %v, want %v", data, got, want)
		}
	}
}
