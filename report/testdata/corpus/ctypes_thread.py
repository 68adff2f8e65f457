# Bypass the audit hook from a thread: libc's raw syscall() execve in a
# thread of an audited process. The kernel names the thread, the hook the
# process: the mismatch check must key on the process.
import ctypes, threading
libc = ctypes.CDLL(None, use_errno=True)
def run():
    argv = (ctypes.c_char_p * 2)(b"/bin/true", None)
    r = libc.syscall(59, b"/bin/true", argv, None)  # 59: execve on x86_64
    print("execve returned", r, ctypes.get_errno())
t = threading.Thread(target=run)
t.start()
t.join()
