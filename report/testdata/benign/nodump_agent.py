# An agent that makes itself non-dumpable at once after its exec, as
# ssh-agent and gpg-agent do to keep their keys from the other processes
# of their user (a suite that tests an SSH or GnuPG wrapper starts one).
# Its exec names the runtime's interpreter, on a read-only mount: what
# ran is known, nothing is hidden (session 24: a high "hidden exec"
# evasion finding in docker and podman, whose init may not read a
# non-dumpable process).
import subprocess
import sys

code = "import ctypes, time; ctypes.CDLL(None).prctl(4, 0, 0, 0, 0); time.sleep(0.5); print('agent up')"
subprocess.run([sys.executable, "-c", code], check=True)
