package egress

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/moat-sandbox/moat"
)

func TestEscape(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"GET / HTTP/1.1\r\n", 100, `GET / HTTP/1.1\r\n`},
		{"a\x1b[2Jb\\", 100, `a\x1b[2Jb\\`},
		{"\xc2\x9b\x00\xff", 100, `\xc2\x9b\x00\xff`},
		{strings.Repeat("a", 20), 10, "aaaaaaa..."},
		{"\x00\x00\x00", 9, `\x00...`},
	} {
		if got := Escape([]byte(c.in), c.max); got != c.want {
			t.Errorf("Escape(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

func TestFromNetwork(t *testing.T) {
	c, err := FromNetwork(moat.NetworkNone)
	if c != nil || err != nil {
		t.Fatalf("none: %v %v", c, err)
	}
	c, err = FromNetwork(moat.NetworkAllow("PyPI.org.:443", "127.0.0.1:8080", "[::1]:9"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ok := range []struct {
		host string
		port int
		want bool
	}{
		{"pypi.org", 443, true}, {"PYPI.ORG.", 443, true}, {"pypi.org", 80, false},
		{"127.0.0.1", 8080, true}, {"::ffff:127.0.0.1", 8080, true}, {"127.0.0.2", 8080, false},
		{"::1", 9, true}, {"evil.example", 443, false},
	} {
		if got := c.Allowed(ok.host, ok.port); got != ok.want {
			t.Errorf("Allowed(%s, %d) = %v", ok.host, ok.port, got)
		}
	}
	if lb := c.loopbacks(); len(lb) != 2 {
		t.Errorf("loopbacks = %v", lb)
	}
	sink, _ := FromNetwork(moat.NetworkSinkhole)
	if sink.Allowed("pypi.org", 443) {
		t.Error("a sinkhole allows nothing")
	}
	if _, err := FromNetwork("allow=nohost"); err == nil {
		t.Error("bad endpoint accepted")
	}
}

func TestSniffHTTP(t *testing.T) {
	req := "POST /steal?x=1 HTTP/1.1\r\nHost: evil.example.com\r\nContent-Length: 6\r\n\r\nsecret"
	s := Sniff([]byte(req))
	if s.Proto != "http" || s.Method != "POST" || s.Path != "/steal?x=1" || s.Host != "evil.example.com" || !s.Complete {
		t.Fatalf("%+v", s)
	}
	if s := Sniff([]byte(req[:len(req)-2])); s.Complete {
		t.Fatal("incomplete body reported complete")
	}
	if s := Sniff([]byte("id\n")); s.Proto != "" {
		t.Fatalf("%+v", s)
	}
}

// clientHello captures the ClientHello that crypto/tls sends for sni.
func clientHello(t testing.TB, sni string) []byte {
	c1, c2 := net.Pipe()
	go func() {
		_ = c1.SetDeadline(time.Now().Add(2 * time.Second))
		_ = tls.Client(c1, &tls.Config{ServerName: sni}).Handshake()
		c1.Close()
	}()
	buf := make([]byte, 0, 4096)
	_ = c2.SetDeadline(time.Now().Add(2 * time.Second))
	for !Sniff(buf).Complete {
		n, err := c2.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			break
		}
	}
	c2.Close()
	return buf
}

func TestSniffTLS(t *testing.T) {
	hello := clientHello(t, "bank.example")
	s := Sniff(hello)
	if s.Proto != "tls" || s.SNI != "bank.example" || !s.Complete {
		t.Fatalf("%+v", s)
	}
	for i := range hello { // every truncation parses without a panic
		_ = Sniff(hello[:i])
	}
}

func FuzzSniff(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add(clientHello(f, "fuzz.example"))
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Sniff(b)
		if s.Proto == "tls" && len(s.SNI) > len(b) {
			t.Fatal("SNI longer than input")
		}
	})
}

func query(t testing.TB, name string, typ dnsmessage.Type) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
	_ = b.StartQuestions()
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	q, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func answer(t *testing.T, r *Resolver, name string, typ dnsmessage.Type) (dnsmessage.RCode, []netip.Addr) {
	t.Helper()
	resp := r.Answer(query(t, name, typ), "test")
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []netip.Addr
	for _, a := range m.Answers {
		if ar, ok := a.Body.(*dnsmessage.AResource); ok {
			out = append(out, netip.AddrFrom4(ar.A))
		}
	}
	return m.Header.RCode, out
}

func TestResolver(t *testing.T) {
	var evs []moat.Event
	rec := NewRecorder(func(ev moat.Event) { evs = append(evs, ev) })
	sink, _ := FromNetwork(moat.NetworkSinkhole)
	r := NewResolver(sink, rec)
	label := strings.Repeat("q", 63)
	_, a1 := answer(t, r, "evil.example.com.", dnsmessage.TypeA)
	_, a2 := answer(t, r, label+".exfil.example.", dnsmessage.TypeA)
	_, again := answer(t, r, "EVIL.example.com.", dnsmessage.TypeA) // the same name, the same answer
	_, _ = answer(t, r, "Zm9vYmFy.Case.example.", dnsmessage.TypeA)
	_, aaaa := answer(t, r, "evil.example.com.", dnsmessage.TypeAAAA)
	_, lh := answer(t, r, "localhost.", dnsmessage.TypeA)
	if len(a1) != 1 || len(a2) != 1 || a1[0] == a2[0] || !sinkRange.Contains(a1[0]) || again[0] != a1[0] || len(aaaa) != 0 {
		t.Fatalf("answers %v %v %v %v", a1, a2, again, aaaa)
	}
	if lh[0] != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("localhost = %v", lh)
	}
	if r.NameOf(a1[0]) != "evil.example.com" || r.NameOf(a2[0]) != label+".exfil.example" {
		t.Fatal("sink addresses do not map back to names")
	}
	// a name's case as asked (base64 in a label keeps it), each case
	// variant once (a secret may be in the case: red team, session 22)
	if len(evs) != 6 || evs[1].Name != label+".exfil.example" || evs[0].Detail != "sinkholed A "+a1[0].String() ||
		evs[2].Name != "EVIL.example.com" || evs[3].Name != "Zm9vYmFy.Case.example" {
		t.Fatalf("events: %+v", evs)
	}

	// Names reserved never to resolve get NXDOMAIN, as from a real
	// resolver, and are recorded; a random name under a real TLD resolves.
	for _, n := range []string{"kill-switch.invalid.", "x.test.", "abc.onion.", "printer.local.", "Y.ALT."} {
		if rc, a := answer(t, r, n, dnsmessage.TypeA); rc != dnsmessage.RCodeNameError || len(a) != 0 {
			t.Errorf("%s: %v %v", n, rc, a)
		}
	}
	if evs[len(evs)-1].Detail != "refused A NXDOMAIN reserved" {
		t.Errorf("reserved name's event: %+v", evs[len(evs)-1])
	}
	if rc, a := answer(t, r, "iuqerfsodp9ifjaposdfjhgosurijfaewrwergwea.com.", dnsmessage.TypeA); rc != dnsmessage.RCodeSuccess || len(a) != 1 {
		t.Errorf("a random name under .com: %v %v", rc, a)
	}

	allow, _ := FromNetwork(moat.NetworkAllow("pypi.org:443"))
	r = NewResolver(allow, rec)
	if rc, a := answer(t, r, "pypi.org.", dnsmessage.TypeA); rc != dnsmessage.RCodeSuccess || len(a) != 1 {
		t.Fatalf("allowed name: %v %v", rc, a)
	}
	if rc, _ := answer(t, r, "evil.example.", dnsmessage.TypeA); rc != dnsmessage.RCodeNameError {
		t.Fatalf("name off the list: %v", rc)
	}
}

func TestRecorderBound(t *testing.T) {
	n := 0
	rec := NewRecorder(func(moat.Event) { n++ })
	for range MaxEvents + 10 {
		rec.Record(moat.Event{Kind: "connect"})
	}
	if n != MaxEvents || rec.Dropped() != 10 {
		t.Fatalf("passed %d, dropped %d", n, rec.Dropped())
	}
}

// A flood of events hides nothing they sent (red team, issue 12: 1,100
// lookups, then a secret in the labels of three more, gave nothing above
// low): lookups cannot crowd out flows, what the sink served is kept, and
// what the dropped events carried comes in one last event.
func TestRecorderFlood(t *testing.T) {
	var evs []moat.Event
	rec := NewRecorder(func(ev moat.Event) { evs = append(evs, ev) })
	for i := range 2000 {
		rec.Record(moat.Event{Kind: moat.KindDNS, Name: fmt.Sprintf("img%d.cdn-static.net", i)})
	}
	rec.Record(moat.Event{Kind: moat.KindDNS, Name: "0a1b2c3d.0.t.cdn-static.net"})
	rec.Record(moat.Event{Kind: moat.KindDNS, Name: "4e5f6a7b.1.t.cdn-static.net"})
	rec.Record(moat.Event{Kind: moat.KindConnect, Addr: "203.0.113.9:80", Data: `POST / HTTP/1.1\r\n\r\nbody-kept`})
	for range MaxEvents {
		rec.Record(moat.Event{Kind: moat.KindConnect, Addr: "203.0.113.9:81"})
	}
	rec.Record(moat.Event{Kind: moat.KindConnect, Addr: "203.0.113.9:82", Data: `POST / HTTP/1.1\r\nHost: x\r\n\r\nbody-dropped`, Path: "/u?d=path-dropped"})
	rec.Record(moat.Event{Kind: moat.KindMetadata, Path: "/latest/meta-data/iam/security-credentials/role"})
	rec.Flush()
	rec.Flush()
	var lookups, kept, served int
	var last moat.Event
	for _, e := range evs {
		switch {
		case e.Kind == moat.KindDNS:
			lookups++
		case e.Kind == moat.KindMetadata:
			served++
		case e.Data == `POST / HTTP/1.1\r\n\r\nbody-kept`:
			kept++
		case e.Kind == moat.KindEvents:
			last = e
		}
	}
	if lookups != maxLookupEvents || kept != 1 || served != 1 {
		t.Errorf("lookups %d (want %d), the flow after them kept %d, served kept %d", lookups, maxLookupEvents, kept, served)
	}
	if evs[len(evs)-1].Kind != moat.KindEvents || evs[len(evs)-2].Kind == moat.KindEvents {
		t.Fatalf("want one overflow event, last: %+v", evs[len(evs)-1])
	}
	for _, want := range []string{"0a1b2c3d4e5f6a7b", "img1999", "body-dropped", "path-dropped"} {
		if !strings.Contains(last.Data, want) {
			t.Errorf("overflow %.200q lacks %q", last.Data, want)
		}
	}
	if strings.Contains(last.Data, "Host: x") || strings.Contains(last.Detail, "cut") || last.Source != "network" {
		t.Errorf("overflow %+v", last)
	}
}

// What even the overflow cannot hold is counted and said.
func TestRecorderOverflowCut(t *testing.T) {
	var evs []moat.Event
	rec := NewRecorder(func(ev moat.Event) { evs = append(evs, ev) })
	big := strings.Repeat("x", 1000)
	for range MaxEvents + 100 {
		rec.Record(moat.Event{Kind: moat.KindConnect, Data: big})
	}
	rec.Flush()
	last := evs[len(evs)-1]
	if last.Kind != moat.KindEvents || !strings.Contains(last.Detail, "cut") || len(last.Data) > 5*MaxOverflow+4 {
		t.Fatalf("%.200v (%d)", last.Detail, len(last.Data))
	}
}

func FuzzResolver(f *testing.F) {
	f.Add(query(f, "evil.example.com.", dnsmessage.TypeA))
	f.Add(query(f, "x.", dnsmessage.TypeTXT))
	f.Add([]byte{0, 1, 2})
	f.Add(append(query(f, "www.cdn-assets.net.", dnsmessage.TypeA)[:len(query(f, "www.cdn-assets.net.", dnsmessage.TypeA))],
		0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 8, 0xfd, 0xe9, 0, 4, 'g', 'h', 'p', '_'))
	sink, _ := FromNetwork(moat.NetworkSinkhole)
	f.Fuzz(func(t *testing.T, q []byte) {
		r := NewResolver(sink, NewRecorder(func(moat.Event) {}))
		if resp := r.Answer(q, "fuzz"); resp != nil && len(resp) > 512 {
			t.Fatalf("answer of %d bytes", len(resp))
		}
		_ = queryName(q)
		if x := pastQuestion(q); len(x) > len(q) {
			t.Fatalf("%d bytes past the question of %d", len(x), len(q))
		}
	})
}

// Past the run's capture budget, events keep a short prefix and say so.
func TestRecorderCaptureBudget(t *testing.T) {
	var evs []moat.Event
	rec := NewRecorder(func(ev moat.Event) { evs = append(evs, ev) })
	big := strings.Repeat("x", MaxCapture)
	for i := 0; i < MaxRunCapture/MaxCapture+5; i++ {
		rec.Record(moat.Event{Kind: "connect", Data: big})
	}
	total := 0
	for _, e := range evs {
		total += len(e.Data)
	}
	last := evs[len(evs)-1]
	if len(evs[0].Data) != MaxCapture || len(last.Data) > SmallCapture+3 || !strings.Contains(last.Detail, "capture budget") || total > MaxRunCapture+5*(SmallCapture+3) {
		t.Fatalf("first %d, last %d %q, total %d", len(evs[0].Data), len(last.Data), last.Detail, total)
	}
}

// TestSniffLen: a whole request's length, so that the next request of a
// pipelined connection is read apart.
func TestSniffLen(t *testing.T) {
	for _, c := range []struct {
		req, next string
		complete  bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET /2 HTTP/1.1\r\n\r\n", true},
		{"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "PUT /x HTTP/1.1\r\n\r\n", true},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n7;x=y\r\n\n0\r\n\r\nx\r\n0\r\n\r\n", "GET / HTTP/1.1\r\n\r\n", true},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTrailer: v\r\n\r\n", "GET / HTTP/1.1\r\n\r\n", true},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "", false},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "", false},
	} {
		s := Sniff([]byte(c.req + c.next))
		if s.Complete != c.complete || (c.complete && s.Len != len(c.req)) {
			t.Errorf("%q: complete %v len %d, want %v %d", c.req, s.Complete, s.Len, c.complete, len(c.req))
		}
	}
}
