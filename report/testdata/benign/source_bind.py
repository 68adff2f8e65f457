# A test suite's client asks for a source address the machine does not
# have (tornado's test_source_ip_fail: bind to 8.8.8.8, port 0, fails
# with EADDRNOTAVAIL), then pipes code to a child interpreter's stdin
# (tornado's test_import). The hook sees the bind asked for; no port was
# opened (native: a critical "bind shell" before, session 24).
import socket
import subprocess
import sys

s = socket.socket()
try:
    s.bind(("8.8.8.8", 0))
    print("bound")
except OSError as e:
    print("bind failed:", e.errno)
s.close()
out = subprocess.run([sys.executable, "-Werror::DeprecationWarning"], input=b"print(6 * 7)", capture_output=True, check=True).stdout
assert out.strip() == b"42", out
print("ok")
