# Pushing bytes into a terminal's input: denied by a filter whatever the
# descriptor (EPERM), or at least no terminal reachable.
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def ioctl(fd, req):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(16), ctypes.c_long(fd), ctypes.c_ulong(req), ctypes.c_char_p(b''))
    e = ctypes.get_errno()
    return 'ok' if r == 0 else 'err:' + errno.errorcode.get(e, str(e))
R['stdin'] = ioctl(0, 0x5412)
R['stdin_isatty'] = str(os.isatty(0))
R['devtty'] = tryopen('/dev/tty', os.O_RDWR)
done()
