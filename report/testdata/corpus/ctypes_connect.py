# Bypass the audit hook: a connection made through libc's socket() and
# connect(), not Python's socket module, so no socket.connect audit event.
import ctypes, socket, struct
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
addr = struct.pack("<H", socket.AF_INET) + struct.pack(">H", 4444) + socket.inet_aton("203.0.113.9") + bytes(8)
r = libc.connect(fd, addr, len(addr))
print("connect returned", r, ctypes.get_errno())
