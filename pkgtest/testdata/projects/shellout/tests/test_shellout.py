import subprocess
import sys

import shellout


def test_shell_true():
    r = subprocess.run("echo hi | tr a-z A-Z", shell=True, capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "HI\n")


def test_shout():
    assert shellout.shout("abc") == "ABC"


def test_env_and_uname():
    # /usr/bin/env, as shebangs use it, and a core utility on PATH.
    assert subprocess.check_output(["/usr/bin/env", sys.executable, "-c", "print('ok')"], text=True) == "ok\n"
    assert subprocess.check_output(["uname", "-s"], text=True) == "Linux\n"
