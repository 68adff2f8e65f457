# exec_race.py with a dropped program that makes no watched call after
# its exec (red team, session 24): a tiny static ELF, written from bytes,
# that writes EVIL and then ends by SYS_exit of its only thread (no
# exit_group), kills itself with SIGKILL, or waits to be killed by its
# parent. The witness confirmed an exec at the process's next watched
# call or its exit_group, so such a program was never confirmed and the
# report named the decoy that the witness read. The filters now notify a
# thread's exit and every signal sent, and the pending execs are swept
# on a timer: each child that ran the dropped file has an exe-swapped
# event.
#
# With the argument xonly (red team, session 24) the dropped program has
# mode 0111: its user may run it but not read it, so the containers' init
# (the program's user, no capability) can neither hash it nor, once it
# runs, read its process (the kernel makes a process that runs an
# unreadable file non-dumpable). The witness took the exec for one it
# could not confirm, and the report named the decoy alone. Such an exec
# is now a hidden one (what ran unknown): a high evasion finding; native
# names and hashes the file.
import ctypes
import os
import shutil
import signal
import struct
import threading
import sys

XONLY = "xonly" in sys.argv[1:]

MSG = b"EVIL\n"
ENDS = {
    "exit": b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05",  # exit(0): SYS_exit
    # kill(getpid(), SIGKILL)
    "kill": b"\xb8\x27\x00\x00\x00\x0f\x05\x89\xc7\xbe\x09\x00\x00\x00\xb8\x3e\x00\x00\x00\x0f\x05",
    "killed": b"\xb8\x22\x00\x00\x00\x0f\x05\xeb\xf7",  # pause() for ever
}


def elf(end):
    """A static x86-64 ELF: write(1, MSG), then end."""
    tail = b"\xba" + struct.pack("<I", len(MSG)) + b"\x0f\x05"  # mov edx, len; syscall
    code = b"\xb8\x01\x00\x00\x00\xbf\x01\x00\x00\x00\x48\x8d\x35"  # write(1, rip+x
    code += struct.pack("<i", len(tail) + len(end)) + tail + end + MSG
    base = 0x400000
    ehdr = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, 2, 62, 1,
                       base + 120, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    size = 120 + len(code)
    return ehdr + struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000) + code


os.makedirs("/tmp/.r", exist_ok=True)
evil = "/tmp/.r/evil"
libc = ctypes.CDLL(None, use_errno=True)
good = shutil.which("true").encode()
size = max(len(good), len(evil)) + 1
good_b, evil_b = good.ljust(size, b"\0"), evil.encode().ljust(size, b"\0")

ran = 0
for i in range(90):
    mode = list(ENDS)[i % 3]
    with open(evil + ".new", "wb") as f:
        f.write(elf(ENDS[mode]))
    os.chmod(evil + ".new", 0o111 if XONLY else 0o755)  # 0o111: its user may run it, not read it
    os.rename(evil + ".new", evil)
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
        argv = (ctypes.c_char_p * 4)(b"x", mode.encode(), str(i).encode(), None)
        libc.execve(buf, argv, None)
        os.write(1, b"NOEXEC\n")  # a name torn mid-copy: no such file
        os._exit(3)
    os.close(w)
    out = b""
    while chunk := os.read(r, 4096):
        out += chunk
        if b"EVIL" in out:
            os.kill(pid, signal.SIGKILL)  # "killed" waits for it
    os.close(r)
    os.waitpid(pid, 0)
    ran += out.count(b"EVIL")
    print("ran", pid, "evil" if b"EVIL" in out else "failed" if b"NOEXEC" in out else "good", mode)
print("evil-ran", ran)
