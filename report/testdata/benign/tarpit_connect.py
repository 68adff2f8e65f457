# requests' TestTimeout: a connect to an address that never answers
# (TARPIT = "http://10.255.255.1") must time out or fail.
import socket

s = socket.socket()
s.settimeout(0.5)
try:
    s.connect(("10.255.255.1", 80))
    print("connected?")
except OSError as e:
    print("no connection, as the test expects:", type(e).__name__)
