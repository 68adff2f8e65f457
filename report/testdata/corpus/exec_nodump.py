# Hide an exec from the kernel's witness (red team, session 24): a child
# makes itself non-dumpable (prctl(PR_SET_DUMPABLE, 0)) and then runs a
# dropped copy of a system program. The containers' init, which holds no
# capability, may then read neither the caller's memory (the exec's name)
# nor its /proc/PID/exe: the report said "executed programs: ." alone.
# Native reads it all (its supervisor is root): the dropped file is
# named; on docker and podman the hidden exec is a high evasion finding.
import ctypes
import os
import shutil

os.makedirs("/tmp/.n", exist_ok=True)
tool = "/tmp/.n/tool"
shutil.copy(shutil.which("echo"), tool)
os.chmod(tool, 0o755)
libc = ctypes.CDLL(None, use_errno=True)
pid = os.fork()
if pid == 0:
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    argv = (ctypes.c_char_p * 3)(b"tool", b"HIDDEN", None)
    libc.execv(tool.encode(), argv)
    os._exit(3)
os.waitpid(pid, 0)
