package egress

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"sync"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/moat-sandbox/moat"
)

// ResolverAddr is where the sandbox's /etc/resolv.conf points.
var ResolverAddr = netip.MustParseAddr("127.0.0.53")

// The sink range: RFC 2544's benchmarking block 198.18.0.0/15, never
// routed on the internet. Each name gets its own address from it, so a
// connection's destination names what the program meant.
var (
	sinkBase  = netip.MustParseAddr("198.18.0.0")
	sinkRange = netip.MustParsePrefix("198.18.0.0/15")
	// sinkShared answers every name once the table is full; it maps to
	// no name.
	sinkShared = netip.MustParseAddr("198.19.255.254")
)

// maxNames bounds the name table (the range has 131072 addresses).
const maxNames = 65536

// sinkTTL is short, so a long run does not cache past a table reset.
const sinkTTL = 5

// Resolver answers DNS queries from inside the sandbox and remembers which
// sink address it gave to which name. It is safe for concurrent use.
type Resolver struct {
	cfg *Config
	rec *Recorder

	mu    sync.Mutex
	names map[string]netip.Addr
	addrs map[netip.Addr]string
	seen  map[string]bool // name+type already recorded
}

// NewResolver returns a Resolver for cfg that records queries with rec.
func NewResolver(cfg *Config, rec *Recorder) *Resolver {
	return &Resolver{cfg: cfg, rec: rec, names: map[string]netip.Addr{}, addrs: map[netip.Addr]string{}, seen: map[string]bool{}}
}

// NameOf returns the name the resolver gave addr to, or "".
func (r *Resolver) NameOf(addr netip.Addr) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addrs[addr.Unmap()]
}

// sinkFor returns the sink address of name, allocating one.
func (r *Resolver) sinkFor(name string) netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.names[name]; ok {
		return a
	}
	if len(r.names) >= maxNames {
		return sinkShared
	}
	// Skip .0 so no answer is a network address.
	n := uint32(len(r.names) + 1)
	b := sinkBase.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) + n
	a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	r.names[name] = a
	r.addrs[a] = name
	return a
}

// Answer answers one DNS query message. It returns nil when q is not a
// query worth answering (then the caller drops it).
func (r *Resolver) Answer(q []byte, via string) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil || h.Response {
		return nil
	}
	question, err := p.Question()
	if err != nil {
		return nil
	}
	raw := question.Name.String()
	name := strings.ToLower(strings.TrimSuffix(raw, "."))
	resp := dnsmessage.Builder{}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	var ans netip.Addr
	detail := ""
	switch {
	case h.OpCode != 0:
		rh.RCode = dnsmessage.RCodeNotImplemented
		detail = "refused not-implemented"
	case name == "localhost" || strings.HasSuffix(name, ".localhost"):
		if question.Type == dnsmessage.TypeA {
			ans = netip.MustParseAddr("127.0.0.1")
		}
		detail = "local localhost"
	case reservedName(name):
		rh.RCode = dnsmessage.RCodeNameError
		detail = "refused NXDOMAIN reserved"
	case r.cfg.Mode == ModeSinkhole && metadataNames[name] && question.Type == dnsmessage.TypeA:
		ans = MetadataAddr
		detail = "sinkholed " + MetadataAddr.String()
	case r.cfg.Mode == ModeAllow && !r.cfg.allowedName(name):
		rh.RCode = dnsmessage.RCodeNameError
		detail = "refused NXDOMAIN"
	case question.Type == dnsmessage.TypeA:
		ans = r.sinkFor(name)
		detail = "sinkholed " + ans.String()
		if r.cfg.Mode == ModeAllow {
			detail = "allowed " + ans.String()
		}
	default:
		detail = "sinkholed no-data"
	}
	// The name as it was asked, its case kept: DNS ignores case, a
	// channel that hides base64 in the labels does not (glean-indexing-
	// api-client-1.0.0's urlsafe-base64 chunks by dig), nor one in the
	// case pattern itself (red team, session 22: each case variant is
	// recorded once). The answer is the lower-case name's.
	// What the query holds past its question (answer, authority and
	// additional records a client has no need to send, beyond an EDNS
	// record) is kept (red team, session 22: a secret in a TXT record
	// of a query's additional section was dropped with the packet).
	// Kept as the records' payloads, however few bytes (red team,
	// session 22's list: up to 48 bytes past the question went
	// unrecorded, room for a secret 20 bytes an EDNS option, a query
	// each); a bare OPT record (glibc's, Go's) is nothing.
	extra := Escape(pastQuestion(q), MaxData)
	r.record(strings.TrimSuffix(raw, "."), question.Type, detail, via, extra)

	resp = dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	resp.EnableCompression()
	if resp.StartQuestions() != nil || resp.Question(question) != nil || resp.StartAnswers() != nil {
		return nil
	}
	if ans.IsValid() {
		rr := dnsmessage.ResourceHeader{Name: question.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: sinkTTL}
		if resp.AResource(rr, dnsmessage.AResource{A: ans.As4()}) != nil {
			return nil
		}
	}
	out, err := resp.Finish()
	if err != nil {
		return nil
	}
	return out
}

// pastQuestion is what a DNS message holds past its first question: its
// other questions' names and its records' owner names and data, an OPT
// record's option values for its data (not the option codes and lengths:
// a secret cut into options, a query each, joins up), and any bytes past
// the counted records. Bytes that do not parse as records are kept as
// they are.
func pastQuestion(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	off, ok := skipName(q, 12, nil)
	if !ok || off+4 > len(q) {
		return nil
	}
	off += 4
	start := off
	var out []byte
	counts := [4]int{int(binary.BigEndian.Uint16(q[4:])) - 1, int(binary.BigEndian.Uint16(q[6:])), int(binary.BigEndian.Uint16(q[8:])), int(binary.BigEndian.Uint16(q[10:]))}
	for sec, n := range counts {
		for range n {
			if off, ok = skipName(q, off, &out); !ok {
				return q[start:]
			}
			if sec == 0 { // a question: type and class
				if off += 4; off > len(q) {
					return q[start:]
				}
				continue
			}
			if off+10 > len(q) {
				return q[start:]
			}
			typ, l := binary.BigEndian.Uint16(q[off:]), int(binary.BigEndian.Uint16(q[off+8:]))
			off += 10
			if off+l > len(q) {
				return q[start:]
			}
			data := q[off : off+l]
			off += l
			if dnsmessage.Type(typ) != dnsmessage.TypeOPT {
				out = append(out, data...)
				continue
			}
			for len(data) >= 4 {
				ol := int(binary.BigEndian.Uint16(data[2:]))
				out = append(out, data[4:4+min(ol, len(data)-4)]...)
				data = data[4+min(ol, len(data)-4):]
			}
			out = append(out, data...)
		}
	}
	return append(out, q[off:]...)
}

// skipName steps over the name at off in msg, appending its labels
// (dot-joined) to out where out is not nil; a compression pointer ends
// it (its target is elsewhere in msg).
func skipName(msg []byte, off int, out *[]byte) (int, bool) {
	for first := true; off < len(msg); first = false {
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xc0 == 0xc0:
			return off + 2, off+2 <= len(msg)
		case l&0xc0 != 0 || off+1+l > len(msg):
			return off, false
		}
		if out != nil {
			if !first {
				*out = append(*out, '.')
			}
			*out = append(*out, msg[off+1:off+1+l]...)
		}
		off += 1 + l
	}
	return off, false
}

func (r *Resolver) record(name string, t dnsmessage.Type, detail, via, extra string) {
	key := typeName(t) + " " + name + " " + extra // each case variant once: a secret may be in the case
	r.mu.Lock()
	if r.seen[key] || len(r.seen) >= maxNames {
		r.mu.Unlock()
		return
	}
	r.seen[key] = true
	r.mu.Unlock()
	verdict, rest, _ := strings.Cut(detail, " ")
	ev := moat.Event{Kind: "dns", Name: Escape([]byte(name), maxField), Addr: via, Detail: verdict + " " + typeName(t) + " " + rest, Data: extra}
	if extra != "" {
		ev.Detail += " (bytes past its question kept)"
	}
	r.rec.Record(ev)
}

// queryName returns the first question's name of a DNS message, for
// datagrams to port 53 that did not go through the resolver.
func queryName(b []byte) string {
	var p dnsmessage.Parser
	if _, err := p.Start(b); err != nil {
		return ""
	}
	q, err := p.Question()
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(q.Name.String(), ".")
}

func typeName(t dnsmessage.Type) string {
	return strings.TrimPrefix(t.String(), "Type")
}

// reservedTLDs are the names a real resolver never resolves, whatever
// asks: RFC 6761's .invalid and .test, RFC 7686's .onion, RFC 9476's .alt,
// RFC 6762's .local (multicast DNS, never unicast). A sandbox that
// resolves them is a tell (a kill switch may ask for one). RFC 2606's
// .example stays sinkholed: the corpus's programs name their C2 hosts
// there (docs/report.md). Every other name resolves to the sink, random
// ones under real TLDs too: a program's C2 must reach the sink, which
// costs the WannaCry-style kill switch (a random name that resolves
// means "watched"): docs/report.md.
var reservedTLDs = []string{"invalid", "test", "onion", "alt", "local"}

// reservedName reports whether name (lower case, no trailing dot) is
// under a reserved TLD or is one.
func reservedName(name string) bool {
	tld := name[strings.LastIndexByte(name, '.')+1:]
	for _, r := range reservedTLDs {
		if tld == r {
			return true
		}
	}
	return false
}
