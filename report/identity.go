package report

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// Bounds of the identity rule.
const (
	// maxIdentityStreams bounds the destinations searched one by one;
	// the data of every further one is searched together, as one.
	maxIdentityStreams = 128
	// envDump is how many of the environment's variable names, whole
	// words, make what left an environment dump.
	envDump = 4
	// dnsPositions is how many of a name's first labels are each joined
	// over a domain's names.
	dnsPositions = 4
	// minFact is the shortest fact looked for; shorter ones are never
	// matched (a two-letter user name is in every text).
	minFact = 3
	// maxIdentityScan bounds the data of one phase searched for facts
	// (each search decodes at most honeytoken.MaxScanBytes of views
	// more); past it, a destination's data is not searched.
	maxIdentityScan = 32 << 20
)

// fact is one identity fact of the run (an "identity" event of moat's):
// what reconnaissance sends home.
type fact struct {
	name  string // hostname, user, home, cwd, passwd
	value string
	// weak: a common word or a short one (user "runner", cwd "/work",
	// host "localhost"): it counts only beside a strong fact, and only
	// as a whole word (not inside a longer one).
	weak bool
	// short: a user name under minFact bytes ("al"): weak, and a word
	// only with neither neighbour a letter, digit or '_' (two letters
	// stand inside every text).
	short bool
}

// commonWords are values that many machines share: as a fact alone they
// say nothing of this one.
var commonWords = map[string]bool{
	"localhost": true, "runner": true, "builder": true, "ci": true, "dev": true, "root": true, "user": true, "admin": true,
	"ubuntu": true, "debian": true, "jenkins": true, "circleci": true, "gitlab-runner": true, "buildkite-agent": true,
	"test": true, "work": true, "/work": true, "/root": true, "/tmp": true, "/home": true, "/": true,
}

// publicAnswer is how the sink's event of a "what is my IP" request says
// the address it answered (egress's stack).
const publicAnswer = "(answered as a public-address service: "

// passwdLine is the first line of every /etc/passwd: sent out, it is the
// file's content.
const passwdLine = "root:x:0:0:"

// identityFacts reads moat's "identity" events: the facts, longest
// first (a longer fact is searched before the facts it contains), and
// the environment's variable names.
func (a *analysis) identityFacts() (facts []fact, env []string) {
	user := ""
	for _, e := range a.evs {
		if e.Source == moat.SourceMoat && e.Kind == moat.KindIdentity && e.Name == "user" {
			user = e.Data
		}
	}
	for _, e := range a.evs {
		if e.Source != moat.SourceMoat || e.Kind != moat.KindIdentity || e.Data == "" {
			continue
		}
		if e.Name == "env" {
			for _, n := range strings.Fields(e.Data) {
				if len(n) >= minFact {
					env = append(env, n)
				}
			}
			continue
		}
		if len(e.Data) < minFact {
			if e.Name == "user" && !commonWords[strings.ToLower(e.Data)] {
				facts = append(facts, fact{name: e.Name, value: e.Data, weak: true, short: true})
			}
			continue
		}
		// a kernel's release is every machine's of one distribution, a
		// CPU model every machine's of one cloud instance type
		weak := len(e.Data) < 5 || commonWords[strings.ToLower(e.Data)] || e.Name == "os release" || e.Name == "cpu model"
		if e.Name == "home" && (user == "" || commonWords[user]) {
			weak = true // /home/runner is every GitHub runner's
		}
		facts = append(facts, fact{name: e.Name, value: e.Data, weak: weak})
	}
	if len(facts) == 0 {
		return nil, nil
	}
	facts = append(facts, fact{name: "/etc/passwd", value: passwdLine})
	for _, p := range a.buildPaths() {
		facts = append(facts, fact{name: "build path", value: p})
	}
	// The sink's own events say which public address it told the run
	// (the program cannot write them).
	for _, e := range a.evs {
		if e.Source != moat.SourceNetwork {
			continue
		}
		if _, ip, ok := strings.Cut(e.Detail, publicAnswer); ok {
			ip, _, _ = strings.Cut(ip, ")")
			if isIP(ip) && !slices.ContainsFunc(facts, func(f fact) bool { return f.value == ip }) {
				facts = append(facts, fact{name: "public address", value: ip})
			}
		}
	}
	sort.SliceStable(facts, func(i, j int) bool { return len(facts[i].value) > len(facts[j].value) })
	return facts, env
}

// maxBuildPaths bounds the build directories taken as facts.
const maxBuildPaths = 8

// pipTemp matches a directory pip makes for a build (tempfile.mkdtemp
// with the prefix "pip-KIND-": pip-install-, pip-req-build-,
// pip-build-env-, pip-modern-metadata-, pip-wheel-, ...): its random
// suffix makes the path this machine's layout, seen by the package's
// setup.py as its own directory (__file__, os.getcwd()).
var pipTemp = regexp.MustCompile(`pip-[a-z]+(?:-[a-z]+)*-[a-z0-9_]{8}`)

// buildPaths are the pip build directories the run's own files and
// programs were in (the paths of its file and exec events and the argv
// of its execs, which are the hook's, the kernel's and the diff's, not
// what left), at most
// maxBuildPaths, in their order.
func (a *analysis) buildPaths() []string {
	var out []string
	for _, e := range a.evs {
		switch e.Kind {
		case moat.KindOpen, moat.KindWrite, moat.KindExec, moat.KindExecFailed, moat.KindNativeImport, moat.KindNativeLoad,
			moat.KindFileCreated, moat.KindFileChanged, moat.KindFileDeleted:
		default:
			continue
		}
		if e.Source == moat.SourceNetwork {
			continue
		}
		where := e.Path
		if e.Kind == moat.KindExec || e.Kind == moat.KindExecFailed {
			where += " " + e.Detail // argv
		}
		for _, m := range pipTemp.FindAllString(where, -1) {
			if len(out) < maxBuildPaths && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// identityStream is what left for one destination.
type identityStream struct {
	dst string
	// whole: each event's path and data (an HTTP request with its
	// headers) on a line; bodies and paths: the bodies and the last
	// components of the paths, joined as they are (a value split over
	// requests reads whole).
	whole, bodies, paths strings.Builder
	dns                  []string // the joins of DNS labels
	evs                  []moat.Event
	size                 int
}

func (s *identityStream) add(e moat.Event) {
	data := hostHeader.ReplaceAllString(e.Data, "")
	if s.size+len(e.Path)+2*len(data) > maxJoined {
		return
	}
	s.size += len(e.Path) + 2*len(data)
	s.whole.WriteString(e.Path + "\n" + data + "\n")
	s.bodies.WriteString(body(data))
	p := e.Path
	if j := strings.LastIndexAny(p, "/=?&"); j >= 0 {
		p = p[j+1:]
	}
	s.paths.WriteString(p)
	s.witness(e)
}

// witness keeps e as evidence, the sink's events before the others (the
// finding rests on the sink's whenever it saw the data too).
func (s *identityStream) witness(e moat.Event) {
	if containsEvent(s.evs, e) {
		return
	}
	if len(s.evs) >= maxEvidence {
		if e.Source != moat.SourceNetwork || s.evs[len(s.evs)-1].Source == moat.SourceNetwork {
			return
		}
		s.evs = s.evs[:len(s.evs)-1]
	}
	s.evs = append(s.evs, e)
	sort.SliceStable(s.evs, func(i, j int) bool {
		return s.evs[i].Source == moat.SourceNetwork && s.evs[j].Source != moat.SourceNetwork
	})
}

// datas are what is searched, one by one.
func (s *identityStream) datas() []string {
	return append([]string{s.whole.String(), s.bodies.String(), s.paths.String()}, s.dns...)
}

func containsEvent(evs []moat.Event, e moat.Event) bool {
	for _, x := range evs {
		if x == e {
			return true
		}
	}
	return false
}

// hostHeader matches an HTTP Host header line (as the sink's events spell
// CRLF, \r\n, or the hook's, \x0d\x0a): it names the destination, not the
// machine.
var hostHeader = regexp.MustCompile(`(?i)(\\r\\n|\\x0d\\x0a|\r\n|\n)host:[^\\\r\n]*`)

// identityStreams gathers, per destination that is not loopback, what
// the program sent there (flows, HTTP requests with their URL and
// headers but the Host header, the labels of DNS names below one domain
// joined three ways as streams() does), each source's together.
func (a *analysis) identityStreams() []*identityStream {
	by := map[string]*identityStream{}
	var order []string
	get := func(dst string) *identityStream {
		s := by[dst]
		if s == nil {
			if len(order) >= maxIdentityStreams {
				dst = "more destinations"
				if s = by[dst]; s != nil {
					return s
				}
			}
			s = &identityStream{dst: dst}
			by[dst] = s
			order = append(order, dst)
		}
		return s
	}
	names := map[string]bool{}
	// The labels of a domain's names joined: all of them, the longest of
	// each name, each name's labels dotted, and the labels at each of the
	// first dnsPositions places (a chunk's place among a session id and a
	// sequence number, the longest of a name or not: a last chunk is short).
	type dnsJoin struct {
		all, longest, dotted strings.Builder
		at                   [dnsPositions]strings.Builder
	}
	joins := map[*identityStream]*dnsJoin{}
	for _, e := range a.evs {
		if e.Source == moat.SourceMoat || e.Source == moat.SourceFS {
			continue
		}
		if e.Kind == moat.KindDNS {
			name := strings.TrimSuffix(strings.ToLower(e.Name), ".")
			// the labels as asked: base64 in them keeps its case
			labels := strings.Split(strings.TrimSuffix(e.Name, "."), ".")
			if len(labels) < 3 || name == "localhost" || strings.HasSuffix(name, ".localhost") {
				continue
			}
			dom := strings.ToLower(strings.Join(labels[len(labels)-2:], "."))
			sub := labels[:len(labels)-2]
			if names[name] {
				// the hook and the sink see each lookup: joined once,
				// both witnesses kept
				get(dom).witness(e)
				continue
			}
			names[name] = true
			longest := ""
			for _, l := range sub {
				if len(l) > len(longest) {
					longest = l
				}
			}
			s := get(dom)
			j := joins[s]
			if j == nil {
				j = &dnsJoin{}
				joins[s] = j
			}
			if s.size+len(name) > maxJoined {
				continue
			}
			s.size += len(name)
			j.all.WriteString(strings.Join(sub, ""))
			for k := 0; k < len(sub) && k < dnsPositions; k++ {
				j.at[k].WriteString(sub[k])
			}
			j.longest.WriteString(longest)
			j.dotted.WriteString(strings.Join(sub, ".") + "\n")
			s.witness(e)
			continue
		}
		// What leaves is a connection's or a request's: a kernel event of
		// another kind names its system call (exec, open), and a connection
		// with no address is to a unix-domain socket, whose path says where
		// on this machine, not what was sent (pytest's
		// /tmp/pytest-of-USER/... socket held the user).
		if e.Kind != moat.KindHTTP && (e.Kind != moat.KindConnect || e.Addr == "") {
			continue
		}
		dst := firstNonEmpty(e.Name, e.Addr)
		if u, err := url.Parse(dst); err == nil && u.Host != "" {
			dst = u.Hostname() // the hook's HTTP events name the URL
		}
		if dst == "" || (e.Data == "" && e.Path == "") || loopback(e.Addr) || loopback(dst) || strings.EqualFold(dst, "localhost") {
			continue
		}
		get(dst).add(e)
	}
	out := make([]*identityStream, 0, len(order))
	for _, k := range order {
		s := by[k]
		if j := joins[s]; j != nil {
			s.dns = []string{j.dotted.String(), j.all.String(), j.longest.String()}
			for k := range j.at {
				s.dns = append(s.dns, j.at[k].String())
			}
		}
		out = append(out, s)
	}
	return out
}

// identityHit is a fact found in what left, and how it was encoded.
type identityHit struct {
	fact
	enc string
}

// findFacts searches data and every view decoded from it for the facts
// and the environment's variable names. A fact inside a longer one found
// in the same view (the user in the home, the home in the working
// directory) is that fact's: it counts only where it also stands alone.
func findFacts(data []byte, facts []fact, env []string) (hits []identityHit, names []string) {
	found := make([]bool, len(facts))
	envFound := map[string]bool{}
	honeytoken.Walk(data, minFact, func(b []byte, enc string) bool {
		masked, low := b, honeytoken.ASCIILower(b)
		for i, f := range facts {
			how, ok := "", false
			lv := honeytoken.ASCIILower([]byte(f.value))
			if f.weak {
				ok = wordIn(low, lv, f.short)
				how = enc
				if how == "" {
					how = "raw"
				}
			} else {
				how, ok = honeytoken.Search(masked, enc, []byte(f.value))
			}
			if ok && !found[i] {
				found[i] = true
				hits = append(hits, identityHit{f, how})
			}
			if bytes.Contains(low, lv) {
				masked, low = mask(masked, low, lv)
			}
		}
		for _, n := range env {
			if !envFound[n] && wordIn(b, []byte(n), true) {
				envFound[n] = true
				names = append(names, n)
			}
		}
		return true
	})
	return hits, names
}

// mask returns copies of b and of low, its lower case, with every
// occurrence of lv (lower case) in low zeroed in both.
func mask(b, low, lv []byte) ([]byte, []byte) {
	b, low = append([]byte(nil), b...), append([]byte(nil), low...)
	for i := 0; ; {
		j := bytes.Index(low[i:], lv)
		if j < 0 || len(lv) == 0 {
			return b, low
		}
		for k := i + j; k < i+j+len(lv); k++ {
			b[k], low[k] = 0, 0
		}
		i += j + len(lv)
	}
}

// wordIn: lv is in low (both lower case, or exact: both as they are),
// not inside a longer word: not between two letters or digits (exact:
// nor next to one, nor to '_', as a variable name stands).
func wordIn(low, lv []byte, exact bool) bool {
	b := low
	in := func(i int) bool {
		if i < 0 || i >= len(b) {
			return false
		}
		c := b[i]
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || exact && c == '_'
	}
	for i := 0; ; {
		j := bytes.Index(low[i:], lv)
		if j < 0 {
			return false
		}
		s, e := i+j-1, i+j+len(lv)
		if exact && !in(s) && !in(e) || !exact && !(in(s) && in(e)) {
			return true
		}
		i += j + 1
	}
}

// identity reports reconnaissance: the machine's identity (the facts of
// moat's "identity" events: host name, user, home, working directory,
// the environment's variable names; /etc/passwd's content; the public
// address the sink told the run) in what left
// for a destination that is not loopback, after the encodings
// honeytokens are matched through and split over that destination's
// flows or DNS names. High when two distinct facts or an environment
// dump left, medium for one; a weak fact (a common word) counts only
// beside a strong one. The Host header and a destination named as a
// fact are not facts: they name where the data went.
func (a *analysis) identity() {
	facts, env := a.identityFacts()
	if len(facts) == 0 {
		return
	}
	budget := maxIdentityScan
	for _, s := range a.identityStreams() {
		var hits []identityHit
		var names []string
		seen := map[string]bool{}
		for _, d := range s.datas() {
			if d == "" || len(d) > budget {
				continue
			}
			budget -= len(d)
			h, n := findFacts([]byte(d), facts, env)
			for _, x := range h {
				if !seen[x.name] && !strings.EqualFold(x.value, s.dst) {
					seen[x.name] = true
					hits = append(hits, x)
				}
			}
			for _, x := range n {
				if !seen["$"+x] {
					seen["$"+x] = true
					names = append(names, x)
				}
			}
		}
		strong := 0
		for _, h := range hits {
			if !h.weak {
				strong++
			}
		}
		dump := len(names) >= envDump
		if strong == 0 && !dump {
			continue
		}
		var parts []string
		sort.SliceStable(hits, func(i, j int) bool { return factOrder(hits[i].name) < factOrder(hits[j].name) })
		for _, h := range hits {
			parts = append(parts, h.name+" ("+h.enc+")")
		}
		if dump {
			sort.Strings(names)
			parts = append(parts, fmt.Sprintf("an environment dump (%d variable names: %s)", len(names), joinBounded(names, 6)))
		}
		sev := moat.SeverityMedium
		if len(hits) >= 2 || dump {
			sev = moat.SeverityHigh
		}
		a.add(moat.CategoryExfiltration, sev, "sent the machine's identity to "+s.dst+": "+strings.Join(parts, ", "), s.evs)
	}
}

func factOrder(name string) int {
	for i, n := range []string{"hostname", "user", "home", "cwd", "build path", "boot id", "os release", "cpu model", "public address", "/etc/passwd"} {
		if n == name {
			return i
		}
	}
	return 9
}
