# What requests does for every URL: look the host up in ~/.netrc, then
# make the request (it fails: no network). Not theft.
import netrc, os, urllib.request
try:
    auth = netrc.netrc(os.path.expanduser("~/.netrc")).authenticators("pypi.example.org")
except (FileNotFoundError, netrc.NetrcParseError):
    auth = None
try:
    urllib.request.urlopen("http://pypi.example.org/simple/", timeout=1)
except OSError as e:
    print("request failed:", type(e).__name__)
