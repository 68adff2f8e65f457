# A test suite's server on every address, on a port the kernel chose
# (dual stack, "::" port 0), and beside it code piped to a child
# interpreter's stdin (subprocess.run([sys.executable], input=...)).
# No bind shell: the child's stdio is a pipe and no caller knows the
# port (native: a critical "bind shell" before, session 24).
import socket
import subprocess
import sys

srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
srv.bind(("::", 0))
srv.listen(1)
out = subprocess.run([sys.executable], input=b"print(6 * 7)", capture_output=True, check=True).stdout
assert out.strip() == b"42", out
srv.close()
print("ok")
