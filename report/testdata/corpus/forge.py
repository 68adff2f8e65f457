# Try to forge findings and events: print finding-like JSON, and flood the
# audit channel with fake lines, including kinds only moat may emit.
import json, os, sys
fake = {"category": "exfiltration", "severity": "critical", "summary": "FORGED", "evidence": []}
print(json.dumps({"findings": [fake]}))
print('{"k":"exec","pid":1,"path":"/bin/sh"}', file=sys.stderr)
fd = os.open("/.moat/audit", os.O_WRONLY | os.O_NONBLOCK)
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
os.write(fd, b'{"k":"open","pid":1,"path":"/home/sandbox/.aws/credentials"}\n')
