package report

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// maxJoined bounds one reassembled stream (a domain's DNS labels, a
// destination's flows) searched for secrets.
const maxJoined = 4 << 20

// exfiltration looks for a honeytoken's value, raw or encoded (see
// honeytoken.Matcher), anywhere it could leave the sandbox or be left
// behind: each event's fields, DNS names and file names, the run's
// stdout and stderr, and the streams reassembled per destination (the
// labels of every query to one domain, in order; every flow's data to
// one address), so a secret split over many queries, packets or requests
// is found whole. One finding per channel (e.g. "sent over the network
// (raw)") names every token that took it, so one request carrying five
// secrets is one finding, not five.
func (a *analysis) exfiltration() {
	if len(a.tokens) == 0 {
		return
	}
	m := honeytoken.NewMatcher(a.tokens)
	// The search is bounded by its work (the bytes of every view it
	// searches: the same data is cut at the same place whatever the
	// host's load, so the verdict does not depend on it), events first
	// (their half), then the streams (every destination's data joined)
	// to the end; and, behind that, by time. A cut is said, never silent.
	start := time.Now()
	m.SetWorkLimit(secretSearchWork / 2)
	m.SetDeadline(start.Add(secretSearchBudget / 2))
	defer func() {
		switch m.CutBy() {
		case "work":
			a.add(moat.CategoryEvasion, moat.SeverityMedium, fmt.Sprintf("the search for planted secrets in what the run sent, wrote and named was cut at its work budget (%d MiB of data and its decodings): the run made more data to search than moat searches, and what is past the cut was not searched", secretSearchWork>>20), nil)
		case "time":
			a.add(moat.CategoryEvasion, moat.SeverityMedium, fmt.Sprintf("the search for planted secrets in what the run sent, wrote and named was cut at its time budget (%s) before its work budget: what is past the cut was not searched (a host too busy, or data slow to search)", secretSearchBudget), nil)
		}
	}()
	hosts := map[string]string{} // token id: the one host it is for
	for _, t := range a.tokens {
		if t.Host != "" {
			hosts[t.ID] = t.Host
		}
	}
	type channel struct {
		ids    []string
		events []moat.Event
		seen   map[moat.Event]bool
		sev    moat.Severity
	}
	channels := map[string]*channel{}
	var order []string
	note := func(ch, id string, sev moat.Severity, evs ...moat.Event) {
		c := channels[ch]
		if c == nil {
			c = &channel{seen: map[moat.Event]bool{}, sev: sev}
			channels[ch] = c
			order = append(order, ch)
		}
		if !slices.Contains(c.ids, id) {
			c.ids = append(c.ids, id)
		}
		for _, e := range evs {
			if !c.seen[e] {
				c.seen[e] = true
				c.events = append(c.events, e)
			}
		}
	}
	found := map[string]bool{} // "id|event index": found in one event already
	for i, e := range a.evs {
		switch {
		case e.Source == moat.SourceMoat && e.Kind == moat.KindHoneytokenOutput:
			sev := moat.SeverityCritical
			if e.Detail == "raw" {
				sev = moat.SeverityHigh // printed as is: maybe a debug dump of the environment
			}
			note("printed to "+e.Path+" ("+e.Detail+")", e.Name, sev, e)
			continue
		case e.Source == moat.SourceMoat:
			continue
		case e.Source == moat.SourceFS && e.Kind == moat.KindHoneytokenWritten:
			note("written to "+e.Path+" ("+e.Detail+")", e.Name, moat.SeverityCritical, e)
			continue
		case e.Source == moat.SourceFS:
			if e.Kind == moat.KindFileCreated || e.Kind == moat.KindFileChanged {
				for _, h := range m.Match([]byte(nameForm(e.Path))) {
					note("written into a file name "+e.Path+" ("+h.Encoding+")", h.ID, moat.SeverityCritical, e)
				}
			}
			continue
		}
		if e.Name != "" {
			for _, h := range m.Match([]byte(nameForm(e.Name))) {
				found[h.ID+"|"+fmt.Sprint(i)] = true
				note(channelOf(e, "in the name "+e.Name)+" ("+h.Encoding+")", h.ID, moat.SeverityCritical, e)
			}
		}
		for _, s := range []string{e.Data, e.Detail, e.Addr, e.Path} {
			for _, h := range m.Match([]byte(s)) {
				if found[h.ID+"|"+fmt.Sprint(i)] {
					continue
				}
				found[h.ID+"|"+fmt.Sprint(i)] = true
				if host := hosts[h.ID]; host != "" && s == e.Data && a.basicAuthTo(e, host) {
					note("sent to "+host+", the host its ~/.netrc entry is for, as HTTP Basic auth (what requests and curl -n do with ~/.netrc: not theft)", h.ID, moat.SeverityLow, e)
					continue
				}
				note(channelOf(e, "")+" ("+h.Encoding+")", h.ID, moat.SeverityCritical, e)
			}
		}
	}
	m.SetWorkLimit(secretSearchWork)
	m.SetDeadline(start.Add(secretSearchBudget))
	joined := map[string]bool{} // "id|source|kind": found in one destination's stream
	streams := a.streams()
	for _, s := range streams {
		for _, h := range m.Match(s.data) {
			key := h.ID + "|" + s.src + "|" + s.kind
			k := h.ID + "|" + s.src + "|"
			if s.kind == "mix" && (joined[k+"dns"] || joined[k+"data"] || joined[k+"path"]) {
				continue // one kind of channel carried it: noted already
			}
			if s.single(m, h.ID) || (s.wide && joined[key]) {
				continue // one event, or one destination, carried it whole: noted already
			}
			if s.kind == "port" {
				// One host's ports (and datagram sizes) are read three
				// ways (a byte a port, two in either order): the first
				// that carried it says so.
				if joined[k+s.what] {
					continue
				}
				joined[k+s.what] = true
			}
			joined[key] = true
			note(s.what+" ("+h.Encoding+")", h.ID, moat.SeverityCritical, s.evs...)
		}
	}
	// The same streams' parts, searched for pieces of a value: each part
	// framed (a sequence number before it, a header), or the parts out of
	// order (red team, session 24). Not the ports, addresses and sizes,
	// whose parts are a byte or two.
	for _, s := range streams {
		if s.kind == "port" || s.kind == "addr" {
			continue
		}
		parts := make([][]byte, len(s.parts))
		for i, p := range s.parts {
			parts[i] = []byte(p)
		}
		for _, h := range m.Pieces(parts) {
			key := h.ID + "|" + s.src + "|" + s.kind
			k := h.ID + "|" + s.src + "|"
			if joined[key] || joined[k+"pieces"] {
				continue // found whole, or in pieces of one destination: noted already
			}
			if s.kind == "mix" && (joined[k+"dns"] || joined[k+"data"] || joined[k+"path"]) {
				continue
			}
			joined[key] = true
			if !s.wide {
				joined[k+"pieces"] = true
			}
			note(s.what+" ("+h.Encoding+")", h.ID, moat.SeverityCritical, s.evs...)
		}
	}
	for _, ch := range order {
		c := channels[ch]
		what := "fake secret " + c.ids[0]
		if len(c.ids) > 1 {
			what = fmt.Sprintf("%d fake secrets (%s)", len(c.ids), strings.Join(c.ids, ", "))
		}
		a.add(moat.CategoryExfiltration, c.sev, what+" "+ch, c.events)
	}
}

// secretSearchWork bounds the work of one phase's search for planted
// secrets (half for the events, the rest for the streams): bytes of
// views searched (honeytoken.Matcher.SetWorkLimit). Measured 2026-12-06
// on an idle host: moattest's walk-flood (2,029 events under a path of
// 3,750 hex-like characters) is 130 MB in 7.4 s; a benign tree of
// 62,000 files 1.4 MB; the most one call searches is 16 MiB.
var secretSearchWork int64 = 512 << 20

// secretSearchBudget bounds the time of the same search behind the work
// budget: it is reached first only on a host many times slower or
// busier than the one the work budget was measured on (40 s, the bound
// before the work budget, cut benign suites' searches at load 20).
var secretSearchBudget = 180 * time.Second

// nameForm joins a DNS name's labels or a path's components, so a
// secret split over them reads whole (the separators are not in any
// token or in the alphabets of its encodings but base64's /).
func nameForm(s string) string {
	return s + "\n" + strings.NewReplacer(".", "", "/", "").Replace(s)
}

// stream is data reassembled from several events of one destination,
// or (wide) of every destination of one kind in the run.
type stream struct {
	what  string
	src   string // the events' source
	kind  string // dns, data, path or fs
	wide  bool
	data  []byte
	parts []string
	evs   []moat.Event
	idx   []int
}

// single: one part of s carries id whole, so its event was noted alone
// (a part, not the event: a flow that carried the secret in its data
// says nothing of the labels of its host name).
func (s *stream) single(m *honeytoken.Matcher, id string) bool {
	for _, p := range s.parts {
		for _, h := range m.Match([]byte(p)) {
			if h.ID == id {
				return true
			}
		}
	}
	return false
}

func (s *stream) add(i int, e moat.Event, b string) {
	if len(s.data)+len(b) > maxJoined {
		return
	}
	s.data = append(s.data, b...)
	s.parts = append(s.parts, b)
	s.idx = append(s.idx, i)
	if len(s.evs) < maxEvidence {
		s.evs = append(s.evs, e)
	}
}

// streams reassembles, per source (the audit hook and the sink see the
// same query twice), the labels of DNS queries below each domain (its
// last two labels), each name once, in order; and per destination
// address (whatever its port) or host, the payloads of every flow (HTTP
// bodies without their headers) and the last component of every request
// path. The same, joined over every domain, address and host of the run,
// are streams too ("wide"): a program that owns several domains or
// addresses can send each part of a secret to another. Host names a flow
// carries with no lookup (a TLS SNI, an HTTP Host) count as lookups.
func (a *analysis) streams() []*stream {
	by := map[string]*stream{}
	var keys []string
	get := func(key, kind, what string) *stream {
		s := by[key]
		if s == nil {
			src, _, _ := strings.Cut(strings.TrimPrefix(key, "~"), "|")
			s = &stream{what: what, src: src, kind: kind}
			by[key] = s
			keys = append(keys, key)
		}
		return s
	}
	// wide streams sort after every destination's ("~" > any source).
	wide := func(key, kind, what string) *stream {
		s := get("~"+key, kind, what)
		s.wide = true
		return s
	}
	// Every lookup's labels, flow's data and request's path of the run,
	// in order, are one stream more ("mix", after the others): a program
	// can send a secret's first half in a lookup and the rest in a flow
	// (red team, session 19: verdict medium).
	const mixed = "split over the run's lookups, flows and requests"
	names := map[string]bool{}
	// Lookups whose first label is a chunk's number (0.<chunk>.domain,
	// 1.<chunk>.domain, ...): joined in the numbers' order too, for
	// lookups made at once by several processes or threads arrive in any
	// order (glean-indexing-api-client-1.0.0 starts a dig per chunk).
	type numbered struct {
		n, i  int
		e     moat.Event
		chunk string
	}
	indexed := map[string][]numbered{}
	indexedDom := map[string]string{}
	var indexedKeys []string
	for i, e := range a.evs {
		if e.Source == moat.SourceFS && (e.Kind == moat.KindFileCreated || e.Kind == moat.KindFileChanged) {
			dir, base := path.Split(e.Path)
			get("fs|"+dir, "fs", "split over the names of files in "+dir).add(i, e, observe.LongestAlnum(base))
			continue
		}
		if e.Source == moat.SourceMoat || e.Source == moat.SourceFS {
			continue
		}
		src := string(e.Source)
		if (e.Kind == moat.KindDNS || e.Source == moat.SourceNetwork) && e.Name != "" && !isIP(e.Name) {
			// The labels as asked: base64 in them keeps its case, and so
			// does a secret in the case itself (red team, session 22); the
			// domain in lower case.
			labels := strings.Split(strings.TrimSuffix(e.Name, "."), ".")
			if len(labels) >= 3 && !names[src+"|"+e.Name] {
				names[src+"|"+e.Name] = true
				dom := strings.ToLower(strings.Join(labels[len(labels)-2:], "."))
				sub := labels[:len(labels)-2]
				if n, err := strconv.Atoi(sub[0]); err == nil && n >= 0 && len(sub[0]) <= 6 && len(sub) >= 2 {
					k := src + "|dns-numbered|" + dom
					if indexed[k] == nil {
						indexedKeys = append(indexedKeys, k)
						indexedDom[k] = dom
					}
					chunk := ""
					for _, l := range sub[1:] {
						if len(l) > len(chunk) {
							chunk = l
						}
					}
					indexed[k] = append(indexed[k], numbered{n: n, i: i, e: e, chunk: chunk})
				}
				longest := ""
				for _, l := range sub {
					if len(l) > len(longest) {
						longest = l
					}
				}
				// The chunks may come with sequence numbers or a session id
				// in other labels: also each query's first, and longest, label.
				what := "split over DNS lookups below " + dom
				get(src+"|dns|"+dom, "dns", what).add(i, e, strings.Join(sub, ""))
				get(src+"|dns-first|"+dom, "dns", what).add(i, e, sub[0])
				get(src+"|dns-longest|"+dom, "dns", what).add(i, e, longest)
				what = "split over DNS lookups of several domains"
				wide(src+"|dns", "dns", what).add(i, e, strings.Join(sub, ""))
				wide(src+"|dns-first", "dns", what).add(i, e, sub[0])
				wide(src+"|dns-longest", "dns", what).add(i, e, longest)
				wide(src+"|zmix", "mix", mixed).add(i, e, strings.Join(sub, ""))
			}
			if t, ok := queryType(e); ok && len(labels) >= 2 {
				// The types of the queries below one domain, a byte each:
				// the sink records every query (each name, type and
				// payload once), its type in its detail.
				dom := strings.ToLower(strings.Join(labels[len(labels)-2:], "."))
				get(src+"|dns-types|"+dom, "port", "encoded in the types of the DNS queries below "+dom).add(i, e, string([]byte{byte(t)}))
			}
			if e.Kind == moat.KindDNS && e.Data != "" && len(labels) >= 2 {
				// What queries carry past their question (EDNS options,
				// records), joined: a secret cut into options, a query
				// each (the sink keeps the options' values alone).
				dom := strings.ToLower(strings.Join(labels[len(labels)-2:], "."))
				get(src+"|dns-records|"+dom, "dns", "split over the records of DNS queries below "+dom).add(i, e, e.Data)
				wide(src+"|dns-records", "dns", "split over the records of DNS queries of several domains").add(i, e, e.Data)
			}
			if e.Kind == moat.KindDNS {
				continue
			}
		}
		if e.Kind == moat.KindConnect {
			if ap, err := netip.ParseAddrPort(e.Addr); err == nil {
				// The destination itself can carry the secret, no byte
				// sent (red team, session 19: an AWS key three bytes an
				// address 10.x.y.z, verdict medium): every address's
				// last octets, in order, and the ports to one address
				// (low byte, a byte a port; or two, in either order; a
				// base added to them, 1000 + b, is a key the matcher
				// undoes). The hook and the kernel keep each connect to
				// one host in order, the port repeats too
				// (docs/report.md, "Session 20").
				h := ap.Addr().Unmap().String()
				what := "encoded in the ports of the connections to " + h
				p := ap.Port()
				get(src+"|port|"+h+"|1", "port", what).add(i, e, string([]byte{byte(p)}))
				get(src+"|port|"+h+"|2", "port", what).add(i, e, string([]byte{byte(p >> 8), byte(p)}))
				get(src+"|port|"+h+"|3", "port", what).add(i, e, string([]byte{byte(p), byte(p >> 8)}))
				// The source port the program bound before its connect,
				// which the hook says (no other witness keeps it).
				if n, err := strconv.ParseUint(strings.TrimPrefix(e.Detail, "from port "), 10, 16); err == nil && strings.HasPrefix(e.Detail, "from port ") {
					what := "encoded in the source ports of the connections to " + h
					get(src+"|sport|"+h+"|1", "port", what).add(i, e, string([]byte{byte(n)}))
					get(src+"|sport|"+h+"|2", "port", what).add(i, e, string([]byte{byte(n >> 8), byte(n)}))
					get(src+"|sport|"+h+"|3", "port", what).add(i, e, string([]byte{byte(n), byte(n >> 8)}))
				}
				// The sizes of the datagrams to one address, which the
				// sink records each (red team, session 22: a secret a
				// byte a datagram's length, its content random, was a
				// medium network finding): a byte a size, or two.
				if _, rest, ok := strings.Cut(e.Detail, " udp "); ok && e.Source == moat.SourceNetwork {
					if n, err := strconv.ParseUint(strings.TrimSuffix(rest, " bytes"), 10, 16); err == nil && strings.HasSuffix(rest, " bytes") {
						what := "encoded in the sizes of the datagrams to " + h
						get(src+"|size|"+h+"|1", "port", what).add(i, e, string([]byte{byte(n)}))
						get(src+"|size|"+h+"|2", "port", what).add(i, e, string([]byte{byte(n >> 8), byte(n)}))
						get(src+"|size|"+h+"|3", "port", what).add(i, e, string([]byte{byte(n), byte(n >> 8)}))
					}
				}
				if ap.Addr().Unmap().Is4() {
					o := ap.Addr().Unmap().As4()
					for n := 1; n <= 4; n++ {
						wide(fmt.Sprintf("%s|addr%d", src, n), "addr", "encoded in the addresses connected to").add(i, e, string(o[4-n:]))
					}
				}
			}
		}
		dst := firstNonEmpty(e.Name, hostOf(e.Addr))
		if dst == "" || (e.Data == "" && e.Path == "") {
			continue
		}
		if e.Data != "" {
			get(src+"|data|"+dst, "data", "split over the flows to "+dst).add(i, e, body(e.Data))
			wide(src+"|data", "data", "split over the flows to several destinations").add(i, e, body(e.Data))
			wide(src+"|zmix", "mix", mixed).add(i, e, body(e.Data))
		}
		if e.Path != "" {
			p := e.Path
			if j := strings.LastIndexAny(p, "/=?&"); j >= 0 {
				p = p[j+1:]
			}
			get(src+"|path|"+dst, "path", "split over the requests to "+dst).add(i, e, p)
			wide(src+"|path", "path", "split over the requests to several destinations").add(i, e, p)
			wide(src+"|zmix", "mix", mixed).add(i, e, p)
		}
	}
	for _, k := range indexedKeys {
		xs := indexed[k]
		sort.SliceStable(xs, func(p, q int) bool { return xs[p].n < xs[q].n })
		s := get(k, "dns", "split over DNS lookups below "+indexedDom[k]+", in their chunks' numbered order")
		for j, x := range xs {
			if j > 0 && x.n == xs[j-1].n {
				continue // a chunk asked again (A, then AAAA)
			}
			s.add(x.i, x.e, x.chunk)
		}
	}
	sort.Strings(keys)
	out := make([]*stream, 0, len(keys))
	for _, k := range keys {
		if s := by[k]; len(s.idx) > 1 {
			out = append(out, s)
		}
	}
	return out
}

// dnsTypes are the numbers of the query types the sink names in a DNS
// event's detail (dnsmessage's names; other types are their numbers).
var dnsTypes = map[string]uint16{"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "WKS": 11, "PTR": 12, "HINFO": 13, "MINFO": 14,
	"MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33, "OPT": 41, "SVCB": 64, "HTTPS": 65, "AXFR": 252, "ALL": 255}

// queryType is the type of the query a DNS event of the sink records
// ("sinkholed TXT no-data", "refused 65280 NXDOMAIN").
func queryType(e moat.Event) (uint16, bool) {
	if e.Kind != moat.KindDNS || e.Source != moat.SourceNetwork {
		return 0, false
	}
	f := strings.Fields(e.Detail)
	if len(f) < 2 {
		return 0, false
	}
	if t, ok := dnsTypes[f[1]]; ok {
		return t, true
	}
	n, err := strconv.ParseUint(f[1], 10, 16)
	return uint16(n), err == nil
}

// hostOf is hostport's host: the flows to one address are one
// destination whatever their ports (TCP and UDP, one port each).
func hostOf(hostport string) string {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap().String()
	}
	return hostport
}

// body is an HTTP request's body (its data as moat's events escape it:
// CRLF spelled \r\n), or the data itself.
func body(data string) string {
	if _, b, ok := strings.Cut(data, `\r\n\r\n`); ok {
		return b
	}
	return data
}

// basicAuthTo: e is one HTTP request to host carrying an Authorization:
// Basic header: the sink's flow to the address its DNS answer gave host
// (neither the program's Host header nor its SNI alone: a request to
// another address naming host stays a finding), or the audit hook's copy
// of a request naming host whose flow the sink saw so. A secret in it is
// sent where its netrc entry directs; the run reached nobody else.
func (a *analysis) basicAuthTo(e moat.Event, host string) bool {
	if !strings.Contains(strings.ToLower(e.Data), "authorization: basic ") {
		return false
	}
	switch {
	case e.Source == moat.SourceNetwork:
		return strings.EqualFold(e.Name, host) && a.sinkOnly(host, e.Addr)
	case e.Source == moat.SourceAudit && e.Kind == moat.KindHTTP:
		if !strings.Contains(strings.ToLower(e.Data), `host: `+strings.ToLower(host)+`\x0d\x0a`) {
			return false
		}
		for _, n := range a.evs {
			if n.Source == moat.SourceNetwork && strings.EqualFold(n.Name, host) && a.sinkOnly(host, n.Addr) {
				return true
			}
		}
	}
	return false
}

// sinkAnswer: the sink's DNS answer for host was hostport's address.
func (a *analysis) sinkAnswer(host, hostport string) bool {
	own, _ := a.sinkAnswers(host, hostport)
	return own
}

// sinkOnly is sinkAnswer where the sink gave that address to no other
// name: past its per-name addresses the sink gives every new name one
// shared address, and a flow there may be to any of them (a program
// could fill the names, then send a secret to its own host's name,
// naming the netrc host in the request).
func (a *analysis) sinkOnly(host, hostport string) bool {
	own, other := a.sinkAnswers(host, hostport)
	return own && !other
}

// sinkAnswers says whether the sink's DNS answers gave hostport's address
// to host, and to another name.
func (a *analysis) sinkAnswers(host, hostport string) (own, other bool) {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return false, false
	}
	for _, n := range a.evs {
		if n.Source != moat.SourceNetwork || n.Kind != moat.KindDNS {
			continue
		}
		for _, f := range strings.Fields(n.Detail) {
			if ip, err := netip.ParseAddr(f); err == nil && ip == ap.Addr().Unmap() {
				if strings.EqualFold(strings.TrimSuffix(n.Name, "."), host) {
					own = true
				} else {
					other = true
				}
			}
		}
	}
	return own, other
}

func channelOf(e moat.Event, extra string) string {
	var s string
	switch {
	case e.Source == moat.SourceNetwork:
		s = "sent over the network"
	case e.Kind == moat.KindDNS:
		s = "put in a DNS lookup"
	case e.Kind == moat.KindHTTP || e.Kind == moat.KindConnect:
		s = "put in a network request"
	case e.Kind == moat.KindExec:
		s = "passed to a command"
	default:
		s = "seen in a " + string(e.Kind) + " event"
	}
	if extra != "" {
		s += " " + extra
	}
	return s
}

// OutputEvents looks for the planted tokens of evs in what the run
// printed, and returns a "honeytoken-output" event for each one found
// (Path: stdout or stderr, Detail: how it was encoded). The output is
// moat's own observation: the program cannot unsay what it printed.
func OutputEvents(evs []moat.Event, stdout, stderr string, atMS int64) []moat.Event {
	var tokens []honeytoken.Token
	phase := ""
	for _, e := range evs {
		if e.Source == moat.SourceMoat && e.Kind == moat.KindHoneytokenPlanted && e.Data != "" {
			tokens = append(tokens, honeytoken.Token{ID: e.Name, Value: e.Data})
			phase = e.Phase
		}
	}
	if len(tokens) == 0 {
		return nil
	}
	m := honeytoken.NewMatcher(tokens)
	var out []moat.Event
	for _, o := range []struct{ name, data string }{{"stdout", stdout}, {"stderr", stderr}} {
		for _, h := range m.Match([]byte(o.data)) {
			out = append(out, moat.Event{TimeMS: atMS, Phase: phase, Source: moat.SourceMoat, Kind: moat.KindHoneytokenOutput,
				Path: o.name, Name: h.ID, Detail: h.Encoding})
		}
	}
	return out
}
