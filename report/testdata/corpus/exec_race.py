# Race the kernel witness's read of an exec's name (session 23): a thread
# flips the name in memory between a system program and a dropped copy of
# another while the exec waits for the witness, so that the witness reads
# (and hashes) one and the kernel runs the other. The witness confirms
# what ran by the kernel's link (/proc/PID/exe) at the process's next
# watched call or its exit: a swap is a high evasion finding, and the
# dropped file that ran is named. Each child's argv is its own, so that
# no read is dropped as a repeat.
import ctypes
import os
import shutil
import threading

os.makedirs("/tmp/.r", exist_ok=True)
evil = "/tmp/.r/evil"
shutil.copy(shutil.which("echo"), evil)
os.chmod(evil, 0o755)
libc = ctypes.CDLL(None, use_errno=True)
good = shutil.which("true").encode()
size = max(len(good), len(evil)) + 1
good_b, evil_b = good.ljust(size, b"\0"), evil.encode().ljust(size, b"\0")

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
        argv = (ctypes.c_char_p * 4)(b"x", b"EVIL", str(i).encode(), None)
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
    # What ran in each child (its pid as the sandbox names it): the
    # test compares it with what the witness read.
    print("ran", pid, "evil" if b"EVIL" in out else "failed" if b"NOEXEC" in out else "good")
print("evil-ran", ran)
