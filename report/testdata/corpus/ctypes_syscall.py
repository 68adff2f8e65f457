# Bypass Python's audit hooks: execve through libc's raw syscall().
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
argv = (ctypes.c_char_p * 2)(b"/bin/true", None)
r = libc.syscall(59, b"/bin/true", argv, None)  # 59: execve on x86_64
print("execve returned", r, ctypes.get_errno())
