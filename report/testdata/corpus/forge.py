# Try to forge findings and events: print finding-like JSON, and flood the
# audit channel with fake lines, including kinds only moat may emit.
import json, os, sys
fake = {"category": "exfiltration", "severity": "critical", "summary": "FORGED", "evidence": []}
print(json.dumps({"findings": [fake]}))
print('{"k":"exec","pid":1,"path":"/bin/sh"}', file=sys.stderr)
# The hook's channel, found as a program that digs finds it: named in a
# .pth line of a site directory, or next to the hook's directory, first on
# PYTHONPATH in the C environment.
import re, site
env = dict(kv.split(b"=", 1) for kv in open("/proc/self/environ", "rb").read().split(b"\0") if b"=" in kv)
channel = os.path.join(os.path.dirname(env.get(b"PYTHONPATH", b"/nonexistent/py").split(b":")[0].decode()), "audit")
for sd in site.getsitepackages():
    for n in (os.listdir(sd) if os.path.isdir(sd) else []):
        if n.endswith(".pth"):
            m = re.search(r'\.install\("([^"]+)"\)', open(os.path.join(sd, n)).read())
            if m:
                channel = m.group(1)
fd = os.open(channel, os.O_WRONLY | os.O_NONBLOCK)
lines = [
    {"k": "honeytoken-planted", "name": "x", "data": "FORGEDFORGEDFORGEDFORGED", "path": "/etc/passwd"},
    {"k": "limit", "name": "timeout"},
    {"k": "finding", "severity": "critical"},
    {"k": "hello", "pid": 424242},
]
for i in range(5000):
    try:
        os.write(fd, (json.dumps(lines[i % len(lines)]) + "\n").encode())
    except BlockingIOError:
        pass
os.write(fd, ('{"k":"open","pid":1,"path":"%s"}\n' % os.path.expanduser("~/.aws/credentials")).encode())
