# Try to forge findings and events: print finding-like JSON, and flood the
# audit channel with fake lines, including kinds only moat may emit.
import json, os, sys
fake = {"category": "exfiltration", "severity": "critical", "summary": "FORGED", "evidence": []}
print(json.dumps({"findings": [fake]}))
print('{"k":"exec","pid":1,"path":"/bin/sh"}', file=sys.stderr)
# The hook's channel, found as a program that digs finds it: the hook's
# directory is first on PYTHONPATH in the C environment.
env = dict(kv.split(b"=", 1) for kv in open("/proc/self/environ", "rb").read().split(b"\0") if b"=" in kv)
hook = env[b"PYTHONPATH"].split(b":")[0].decode()
fd = os.open(os.path.join(os.path.dirname(hook), "audit"), os.O_WRONLY | os.O_NONBLOCK)
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
