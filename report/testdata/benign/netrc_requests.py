# requests' own use of ~/.netrc: for a URL whose host has a netrc entry it
# sends that entry's login and password as Basic auth, to that host.
import netrc, os, requests
hosts = netrc.netrc(os.path.expanduser("~/.netrc")).hosts
host = sorted(hosts)[0]
try:
    r = requests.get("https://%s/user" % host, timeout=5)
    print(host, r.status_code)
except requests.RequestException as e:
    print(host, "request failed:", type(e).__name__)
