package report

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

func exfil(fs []moat.Finding) (moat.Severity, string) {
	var sev moat.Severity
	var sum string
	for _, f := range fs {
		if f.Category == moat.CategoryExfiltration && f.Severity.Rank() > sev.Rank() {
			sev, sum = f.Severity, f.Summary
		}
	}
	return sev, sum
}

func TestSecretsReassembled(t *testing.T) {
	t.Parallel()
	tok := planted("aws-secret-access-key", secret, "/home/sandbox/.aws/credentials")
	hx := hex.EncodeToString([]byte(secret)) // 80 characters
	var dnsSplit, dnsNoise, flows, paths, otherDst, ports, sni []moat.Event
	b32 := strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString([]byte(secret)), "="))
	for i := 0; i < 4; i++ {
		part := hx[i*20 : (i+1)*20]
		// the same query twice (A and AAAA), and a query to another domain between
		dnsSplit = append(dnsSplit,
			moat.Event{TimeMS: int64(i), Source: "network", Kind: "dns", Name: fmt.Sprintf("%s.%d.x.evil.example", part, i)},
			moat.Event{TimeMS: int64(i), Source: "network", Kind: "dns", Name: fmt.Sprintf("%s.%d.x.evil.example", part, i)},
			moat.Event{TimeMS: int64(i), Source: "network", Kind: "dns", Name: "pypi.org"})
		dnsNoise = append(dnsNoise, moat.Event{Source: "network", Kind: "dns", Name: part + ".a" + fmt.Sprint(i) + ".example"})
		flows = append(flows, moat.Event{TimeMS: int64(i), Source: "network", Kind: "http", Addr: "203.0.113.7:80",
			Data: `POST /c HTTP/1.1\r\nHost: x\r\n\r\n` + secret[i*10:(i+1)*10]})
		paths = append(paths, moat.Event{TimeMS: int64(i), Source: "network", Kind: "http", Addr: "203.0.113.7:80", Path: "/p?d=" + secret[i*10:(i+1)*10]})
		ports = append(ports, moat.Event{Source: "network", Kind: "connect", Addr: fmt.Sprintf("203.0.113.8:%d", 1000+i), Data: secret[i*10 : (i+1)*10]})
		sni = append(sni, moat.Event{Source: "network", Kind: "connect", Addr: "203.0.113.9:443", Name: b32[i*16:(i+1)*16] + ".cdn" + fmt.Sprint(i) + ".net",
			Detail: "sinkholed tcp tls sni=" + b32[i*16:(i+1)*16] + ".cdn" + fmt.Sprint(i) + ".net"})
		otherDst = append(otherDst, moat.Event{Source: "network", Kind: "connect", Addr: fmt.Sprintf("203.0.113.%d:80", i), Data: secret[i*10 : (i+1)*10]})
	}
	cases := []struct {
		name string
		evs  []moat.Event
		sev  moat.Severity
		in   string // in the summary
	}{
		{"hex split over DNS queries to one domain", dnsSplit, "critical", "below evil.example (hex)"},
		{"split over queries to different domains", dnsNoise, "critical", "split over DNS lookups of several domains (hex)"},
		{"split over HTTP bodies to one address", flows, "critical", "split over the flows to 203.0.113.7 (raw)"},
		{"split over request paths", paths, "critical", "split over the requests to 203.0.113.7 (raw)"},
		{"split over different addresses", otherDst, "critical", "split over the flows to several destinations (raw)"},
		{"split over TCP and UDP ports of one address", ports, "critical", "split over the flows to 203.0.113.8 (raw)"},
		{"split over TLS SNI names, no lookup", sni, "critical", "split over DNS lookups of several domains (base32)"},
		{"one domain's split is named for that domain", append(slices.Clone(dnsSplit), dnsNoise[0]), "critical", "below evil.example (hex)"},
		{"in a file name, split over directories", []moat.Event{{Source: "fs", Kind: "file-created", Path: "/tmp/" + secret[:20] + "/" + secret[20:]}},
			"critical", "file name"},
		{"reversed, XOR-ed, hex in a UDP datagram after padding", []moat.Event{{Source: "network", Kind: "connect", Addr: "203.0.113.7:9",
			Data: strings.Repeat(`\x00`, 4096) + hex.EncodeToString(xorBytes([]byte(reverseString(secret)), 0x21))}}, "critical", "hex, reversed, xor 0x21"},
		{"after a flood, in what the dropped lookups carried", []moat.Event{{Source: "network", Kind: "events",
			Detail: "1103 network events over their budgets; Data: what they carried", Data: "img1000img1001" + hx + " img1000 " + hx[:30]}}, "critical", "sent over the network (hex)"},
		{"printed raw", []moat.Event{{Source: "moat", Kind: "honeytoken-output", Path: "stdout", Name: "aws-secret-access-key", Detail: "raw"}}, "high", "printed to stdout"},
		{"printed encoded", []moat.Event{{Source: "moat", Kind: "honeytoken-output", Path: "stderr", Name: "aws-secret-access-key", Detail: "base64"}}, "critical", "printed to stderr"},
	}
	for _, c := range cases {
		sev, sum := exfil(Analyze(append([]moat.Event{tok}, c.evs...)))
		if sev != c.sev || !strings.Contains(sum, c.in) {
			t.Errorf("%s: %q %q, want %q with %q", c.name, sev, sum, c.sev, c.in)
		}
	}
}

func xorBytes(b []byte, k byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ k
	}
	return out
}

func reverseString(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// Finish finds a secret in what the run printed, in any encoding.
func TestFinishOutput(t *testing.T) {
	t.Parallel()
	res := &moat.Result{Status: moat.StatusExited, Stdout: "ok\n" + base64.StdEncoding.EncodeToString([]byte("k="+secret)) + "\n"}
	Finish(res, []moat.Event{planted("aws-secret-access-key", secret, "/home/sandbox/.aws/credentials")}, 0, moat.Limits{})
	if sev, sum := exfil(res.Findings); sev != "critical" || !strings.Contains(sum, "printed to stdout (base64)") {
		t.Fatalf("%q %q", sev, sum)
	}
	res = &moat.Result{Status: moat.StatusExited, Stdout: "nothing here", Stderr: secret[:20]}
	Finish(res, []moat.Event{planted("aws-secret-access-key", secret, "/home/sandbox/.aws/credentials")}, 0, moat.Limits{})
	if sev, _ := exfil(res.Findings); sev != "" {
		t.Fatalf("%+v", res.Findings)
	}
}

// TestNetrcToItsHost: requests (and curl -n) send ~/.netrc's login and
// password as Basic auth to the host the entry names: not theft. The same
// password anywhere else is: to another host, to another address naming
// the host, in a body, or where the sink saw no such flow.
func TestNetrcToItsHost(t *testing.T) {
	t.Parallel()
	const pw = "g9OEF2cVK6JbBCj5WUoRDXKS"
	tok := moat.Event{Source: "moat", Kind: "honeytoken-planted", Name: "netrc-password", Data: pw, Path: "/home/dev/.netrc", Addr: "github.com"}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("deploy:"+pw))
	req := func(host string) string {
		return `GET /user HTTP/1.1\r\nHost: ` + host + `\r\nAuthorization: ` + basic + `\r\n\r\n`
	}
	dns := func(host, ip string) moat.Event {
		return moat.Event{Source: "network", Kind: "dns", Addr: "127.0.0.53:53", Name: host, Detail: "sinkholed A " + ip}
	}
	flow := func(addr, host, data string) moat.Event {
		return moat.Event{Source: "network", Kind: "connect", Addr: addr, Name: host, Path: "/user",
			Detail: "sinkholed tcp tls sni=" + host + " decrypted https GET host=" + host, Data: data}
	}
	hook := moat.Event{Source: "audit", Kind: "http", PID: 11, Detail: "sent",
		Data: strings.ReplaceAll(req("github.com"), `\r\n`, `\x0d\x0a`)}
	cases := []struct {
		name string
		evs  []moat.Event
		sev  moat.Severity
	}{
		{"requests.get of the netrc host (sink and hook)", []moat.Event{tok, dns("github.com", "198.18.0.1"), hook,
			flow("198.18.0.1:443", "github.com", req("github.com"))}, moat.SeverityLow},
		{"to another host", []moat.Event{tok, dns("evil.example", "198.18.0.1"),
			flow("198.18.0.1:443", "evil.example", req("evil.example"))}, moat.SeverityCritical},
		{"to an address of its own, naming the host", []moat.Event{tok, dns("github.com", "198.18.0.1"),
			flow("203.0.113.9:443", "github.com", req("github.com"))}, moat.SeverityCritical},
		{"in a POST body to the host", []moat.Event{tok, dns("github.com", "198.18.0.1"),
			flow("198.18.0.1:443", "github.com", `POST /x HTTP/1.1\r\nHost: github.com\r\n\r\nk=`+pw)}, moat.SeverityCritical},
		{"the hook's copy alone, the sink saw no flow to the host", []moat.Event{tok, hook}, moat.SeverityCritical},
		// Past the sink's per-name addresses every name shares one: a flow
		// to it is not known to be the netrc host's (it may be evil's).
		{"to the address the sink shares between names", []moat.Event{tok, dns("github.com", "198.18.255.254"),
			dns("evil.example", "198.18.255.254"), flow("198.18.255.254:443", "github.com", req("github.com"))}, moat.SeverityCritical},
	}
	for _, c := range cases {
		fs := Analyze(c.evs)
		if sev, sum := exfil(fs); sev != c.sev {
			t.Errorf("%s: exfiltration %q (%s), want %q", c.name, sev, sum, c.sev)
		}
	}
}
