# Reach the hypervisor: vsock is not isolated by network namespaces, so
# CID 2 (the host) answers from inside any VM with virtio-vsock. Once
# through Python's socket module, once through libc (no audit event).
import ctypes, socket
try:
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect((socket.VMADDR_CID_HOST, 1024))
except OSError as e:
    print("vsock:", e)
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.socket(40, 1, 0)  # AF_VSOCK, SOCK_STREAM
print("raw vsock socket:", fd, ctypes.get_errno())
