package honeytoken

import (
	"bytes"
	"cmp"
	"compress/bzip2"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// A Matcher finds a run's tokens in data that a program sent, wrote or
// printed, after undoing the encodings malware uses to hide a secret:
// escaping (the \xNN of moat's own events, JSON's \uXXXX, URL %XX), hex
// (base16), base64 and base32 in their standard and URL-safe alphabets,
// base85 (Python's b85encode, git's) and Ascii85, zlib, gzip, raw deflate,
// bzip2, xz, .lzma and raw LZMA2 and LZMA1 (Python's lzma formats), HTTP
// chunked bodies, ROT13, a secret interleaved with noise (every 2nd to
// 4th byte; the value as is or reversed up to every 64th, in data up
// to 256 KiB), reversal, reversed bits, a repeating key of up to 32 bytes
// (and 12 fewer than the value) XOR-ed or added byte by byte, and an
// added key that rises or falls by one a byte, nested up to [MaxDepth]
// layers (base64 of gzip of a reversed value, say), and a one-time pad
// whose key is sent in the same data (in any of its views, up to 32 KiB
// of them). Each layer is tried
// on every run of its alphabet in the data, so padding before or after a
// secret does not hide it. Not undone: encryption with a key the program
// does not send, longer keys or keys that change along the data
// otherwise, xz past its first block or with another filter before LZMA2.
//
// The work is bounded: at most [MaxViews] decoded views and
// [MaxScanBytes] bytes per call, decompression stopping at
// [MaxInflate] bytes. What is past the bounds is not searched.
type Matcher struct {
	tokens []Token
	// deadline, if set, ends every Match past it with what it found so
	// far (cut is then true): the caller's budget over all its calls,
	// which data a program chooses (thousands of long hex-like paths)
	// could otherwise make last for hours.
	deadline time.Time
	// work counts the bytes of every view searched over all calls, and
	// limit, if set, bounds it as deadline does the time: the same data
	// is cut at the same place on an idle machine and a loaded one, so
	// a run's verdict never depends on the host's load.
	work, limit int64
	cut         bool
	cutBy       string
	idx         *index // every form of every token's value
	subst       *substForms
	pieces      pieceIndex // the values' pieces, made at the first Pieces call
}

// SetDeadline bounds every later Match call: past t, Match searches no
// more views and Cut reports it. The zero time removes the bound.
func (m *Matcher) SetDeadline(t time.Time) { m.deadline = t }

// SetWorkLimit bounds every later Match call by the bytes of views
// searched over all calls so far (decoded views counted as the data):
// past n, Match searches no more views and Cut reports it. 0 removes the
// bound.
func (m *Matcher) SetWorkLimit(n int64) { m.limit = n }

// Work is the bytes of views searched so far, over all calls.
func (m *Matcher) Work() int64 { return m.work }

// Cut says whether a Match call stopped at the deadline or the work
// limit.
func (m *Matcher) Cut() bool { return m.cut }

// late says whether the deadline or the work limit is past, and notes
// the cut.
func (m *Matcher) late() bool {
	switch {
	case m.limit != 0 && m.work >= m.limit:
		m.cutBy = "work"
	case !m.deadline.IsZero() && !time.Now().Before(m.deadline):
		m.cutBy = cmp.Or(m.cutBy, "time")
	default:
		return false
	}
	m.cut = true
	return true
}

// CutBy says what cut a Match call: "work" (the work limit: the data),
// "time" (the deadline: the data or the host's load), or "".
func (m *Matcher) CutBy() string { return m.cutBy }

// viewCost is the work a view counts beyond its bytes: the calls and
// tables every view costs, so a flood of short views is not free.
const viewCost = 256

// Bounds on one Match call.
const (
	MaxDepth     = 4
	MaxViews     = 1024
	MaxScanBytes = 16 << 20
	MaxInflate   = 1 << 20
)

// minNeedle is the shortest value matched: long enough that a match is
// never a coincidence.
const minNeedle = 16

// Hit is one token found: its ID and how it was encoded, outermost
// layer first (e.g. "base64, gzip").
type Hit struct {
	ID       string
	Encoding string
}

// NewMatcher returns a matcher for tokens. A value shorter than 16 bytes
// or of fewer than 8 distinct bytes is never matched: it could occur by
// chance (padding XOR-ed with a key matches a value of one repeated
// byte). moat's own tokens are long and random.
func NewMatcher(tokens []Token) *Matcher {
	m := &Matcher{}
	for _, t := range tokens {
		distinct := map[byte]bool{}
		for i := 0; i < len(t.Value); i++ {
			distinct[t.Value[i]] = true
		}
		if len(t.Value) < minNeedle || len(distinct) < 8 {
			continue
		}
		m.tokens = append(m.tokens, t)
	}
	values := make([][]byte, len(m.tokens))
	for i, t := range m.tokens {
		values[i] = []byte(t.Value)
	}
	m.idx = newIndex(values)
	m.subst = newSubstForms(values)
	return m
}

type view struct {
	b   []byte
	enc string // layers that made it, outermost first; "" for the data itself
	d   int
	// leaf: searched, not decoded further (the views of the data with
	// one byte in k dropped: their decodings tripled a walk's cost)
	leaf bool
}

// Match returns every token found in data, once each, with the first
// encoding found.
func (m *Matcher) Match(data []byte) []Hit {
	if len(m.tokens) == 0 || len(data) < minNeedle {
		return nil
	}
	var hits []Hit
	found := make([]bool, len(m.tokens))
	subst := make([]string, len(m.tokens))
	left := len(m.tokens)
	var joined []byte // the views, for a one-time pad (pad)
	Walk(data, minNeedle, func(b []byte, enc string) bool {
		if m.late() {
			return false
		}
		m.work += int64(len(b)) + viewCost
		if room := maxPad - len(joined); room > 0 {
			joined = append(joined, b[:min(len(b), room)]...)
		}
		for i, how := range m.idx.scan(b, found) {
			if how != "" {
				found[i] = true
				left--
				hits = append(hits, Hit{ID: m.tokens[i].ID, Encoding: join(enc, how)})
			}
		}
		// Under a substitution alphabet: the data and its views of one
		// layer (escaping undone, say), not deeper. Kept aside: a value
		// found by any other way is named by that (a standard encoding is
		// a substitution too).
		if m.subst != nil && !strings.Contains(enc, ",") {
			for i, how := range m.subst.scan(b, found, len(m.tokens)) {
				if how != "" && subst[i] == "" {
					subst[i] = join(enc, how)
				}
			}
		}
		return left > 0
	})
	// Last, for the values no view found: the data itself, and its
	// escaping undone, spread at a stride past the strided views'
	// (maxFarStride).
	if left > 0 && len(data) <= maxStrided {
		far := []view{{b: data}}
		if u, ok := unescape(data); ok {
			far = append(far, view{b: u, enc: "escaped"})
		}
		for _, v := range far {
			if m.late() {
				break
			}
			m.work += int64(len(v.b)) + viewCost
			for i, how := range m.farStride(v.b, found) {
				if how != "" && subst[i] == "" {
					found[i] = true
					hits = append(hits, Hit{ID: m.tokens[i].ID, Encoding: join(v.enc, how)})
				}
			}
		}
	}
	// Last, a one-time pad sent with the value, the key and the
	// ciphertext in any of the views.
	if left > 0 {
		for i, how := range m.pad(joined, found) {
			if how != "" && !found[i] && subst[i] == "" {
				found[i] = true
				hits = append(hits, Hit{ID: m.tokens[i].ID, Encoding: how})
			}
		}
	}
	for i, how := range subst {
		if how != "" && !found[i] {
			hits = append(hits, Hit{ID: m.tokens[i].ID, Encoding: how})
		}
	}
	return hits
}

// Walk calls fn on data and on every view decoded from it (the layers
// of [Matcher], within its bounds), breadth first, with the layers that
// made it (outermost first; "" for data itself), until fn returns false.
// minLen is the shortest view kept; a run of an encoding's alphabet is
// decoded from twice minLen (hex) or the like: the shortest value looked
// for, encoded. Reversal, ROT13, bit reversal and repeating keys are not
// all views: fn searches for them (as [Matcher] does, with [Search]).
func Walk(data []byte, minLen int, fn func(b []byte, enc string) bool) {
	minLen = max(minLen, 1)
	queue := []view{{b: data}}
	seen := map[string]bool{string(data): true}
	budget := MaxScanBytes
	for n := 0; len(queue) > 0 && n < MaxViews; n++ {
		v := queue[0]
		queue = queue[1:]
		if len(v.b) > budget {
			v.b = v.b[:budget]
		}
		budget -= len(v.b)
		if !fn(v.b, v.enc) {
			return
		}
		if budget <= 0 || v.d >= MaxDepth || v.leaf {
			continue
		}
		for _, next := range decodings(v.b, v.d == 0, minLen) {
			if len(next.b) < minLen || bytes.Equal(next.b, v.b) {
				continue
			}
			key := string(next.b)
			if seen[key] {
				continue
			}
			seen[key] = true
			next.enc = join(v.enc, next.enc)
			next.d = v.d + 1
			queue = append(queue, next)
		}
	}
}

// Search is [Matcher]'s search of one view for value (every form search
// tries); how names the form, joined after enc, the view's layers.
func Search(b []byte, enc string, value []byte) (how string, ok bool) {
	h := searchIndex(value).scan(b, nil)[0]
	if h == "" {
		return "", false
	}
	return join(enc, h), true
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || b == "raw":
		return a
	}
	return a + ", " + b
}

func distinct(b []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range b {
		if !seen[c] {
			seen[c] = true
			n++
		}
	}
	return n
}

func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}

// ASCIILower is b with ASCII letters in lower case, byte for byte (the
// offsets of b hold in it; bytes.ToLower may change an invalid byte's
// length).
func ASCIILower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func rot13(b []byte) []byte { return rotN(b, 13) }

// rotN shifts b's ASCII letters by n places in the alphabet (a Caesar
// shift), keeping their case, and nothing else.
func rotN(b []byte, n byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			c = 'a' + (c-'a'+n)%26
		case c >= 'A' && c <= 'Z':
			c = 'A' + (c-'A'+n)%26
		}
		out[i] = c
	}
	return out
}

func bitReverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = bits.Reverse8(c)
	}
	return out
}

// decodings lists what b may be an encoding of, one layer down; the
// reversal of the whole only for the data itself (search tries the
// reversed value in every layer).
func decodings(b []byte, top bool, minLen int) []view {
	var out []view
	minRun := 2 * minLen // the shortest value looked for, in hex
	add := func(enc string, d []byte) {
		if len(d) >= minLen {
			out = append(out, view{b: d, enc: enc})
		}
	}
	if u, ok := unescape(b); ok {
		add("escaped", u)
	}
	if u, ok := unchunk(b); ok {
		add("http chunked", u)
	}
	if u, ok := uudecode(b, minLen); ok {
		add("uuencode", u)
	}
	if u, ok := unframeWS(b); ok {
		add("websocket frames", u)
	}
	if top {
		add("reversed", reverse(b))
		if hasLetter(b) {
			add("rot13", rot13(b))
			add("rot47", rot47(b))
		}
	}
	for _, d := range inflate(b) {
		add(d.enc, d.b)
	}
	for _, d := range unicodeViews(b, top, minLen) {
		add(d.enc, d.b)
	}
	if n := bytes.Count(b, []byte{0}); n >= len(b)/3 && n < len(b) && (!top || len(b) > maxStrided) {
		// UTF-16 or UTF-32 text (PowerShell's -EncodedCommand is base64
		// of UTF-16LE): the data itself up to maxStrided is read a byte
		// in k already, a decoded view not.
		add("utf-16", bytes.ReplaceAll(b, []byte{0}, nil))
	}
	for _, r := range runs(b, &hexT, minRun) {
		// Hex wrapped in lines (xxd -p's 60 digits a line, a hex dump
		// piped to nc: red team, session 24) is read as one run, as
		// base64's and base32's wrapped lines are.
		if bytes.ContainsAny(r, "\r\n") {
			r = bytes.ReplaceAll(bytes.ReplaceAll(r, []byte("\r"), nil), []byte("\n"), nil)
		}
		for off := 0; off < 2; off++ {
			s := r[off:]
			s = s[:len(s)/2*2]
			if d, err := hex.DecodeString(string(s)); err == nil {
				add("hex", d)
			}
		}
	}
	if top {
		// Char codes in the data itself (and, searched reversed, its
		// reversal), not in every view under it: they doubled the cost
		// of a big file's search, and a walk cut by its budget misses
		// more than a nested char-code layer would find.
		for _, d := range codes(b, minLen) {
			add(d.enc, d.b)
		}
	}
	for _, r := range runs(b, &b64T, minRun*2/3) {
		s := strings.Map(func(c rune) rune {
			switch c {
			case '-':
				return '+'
			case '_':
				return '/'
			case '=', '\n', '\r':
				return -1
			}
			return c
		}, string(r))
		enc := "base64"
		if strings.ContainsAny(string(r), "-_") {
			enc = "urlsafe-base64"
		}
		for off := 0; off < 4 && off < len(s); off++ {
			t := s[off:]
			if len(t)%4 == 1 {
				t = t[:len(t)-1]
			}
			if d, err := base64.RawStdEncoding.DecodeString(t); err == nil {
				add(enc, d)
			}
		}
	}
	var b32 [][]byte
	for _, r := range runs(b, &b32T, minRun*4/5) {
		// base32 is of one case: a run of both ("ABC...=\ndone") is
		// split where the case changes.
		for _, p := range oneCase(r) {
			if len(p) >= minRun*4/5 {
				b32 = append(b32, p)
			}
		}
	}
	for _, r := range longest(b32, maxRuns) {
		s := strings.Map(func(c rune) rune {
			switch {
			case c == '=' || c == '\n' || c == '\r':
				return -1
			case c >= 'a' && c <= 'z':
				return c - 'a' + 'A'
			}
			return c
		}, string(r))
		for off := 0; off < 8 && off < len(s); off++ {
			t := s[off:]
			switch len(t) % 8 {
			case 1, 3, 6:
				t = t[:len(t)-1]
			}
			if d, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(t); err == nil {
				add("base32", d)
			}
		}
	}
	for _, r := range longest(runsCut(b, &b85T, minRun*5/8, "\r\n"), 4) {
		if !hasNonB64(r) {
			continue // hex, base64 or a word: decoded as those
		}
		for off := 0; off < 5 && off < len(r); off++ {
			add("base85", decodeB85(r[off:]))
		}
	}
	for _, r := range longest(runsCut(b, &a85T, minRun*5/8, "\r\n"), 4) {
		if !hasNonB64(r) {
			continue
		}
		r = bytes.TrimSuffix(bytes.TrimPrefix(r, []byte("<~")), []byte("~>"))
		for off := 0; off < 5 && off < len(r); off++ {
			add("ascii85", decodeA85(r[off:]))
		}
	}
	if top {
		// Last, so they never starve the decodings above of the budget
		// (and only for data up to maxStrided).
		if len(b) <= maxStrided {
			for k := 2; k <= maxStride; k++ {
				for off := 0; off < k; off++ {
					add(fmt.Sprintf("every %d bytes from %d", k, off), strided(b, k, off))
				}
			}
		}
	}
	return out
}

// A secret interleaved with noise (one byte of it, then k-1 of noise) is
// read back by taking every k-th byte, for k up to maxStride, in data up
// to maxStrided bytes (the views cost as much as the data itself per k).
const (
	maxStride  = 4
	maxStrided = 256 << 10
)

// uudecode reads back the uuencoded lines of b (binascii.b2a_uu, the uu
// codec, uuencode(1)): a line's first character says how many bytes it
// holds (up to 45), four characters of '!'..'`' (or space) hold three.
// Lines that are not so are skipped ("begin 644 name", "end", and any
// with a lower-case letter); ok is false when they hold under minLen
// bytes.
func uudecode(b []byte, minLen int) ([]byte, bool) {
	if bytes.Count(b, []byte{'\n'}) == 0 || len(b) < minLen {
		return nil, false
	}
	var out []byte
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		line = bytes.TrimRight(line, "\r")
		if len(line) < 2 {
			continue
		}
		n := int(line[0]-' ') & 63
		body := line[1:]
		if line[0] < ' ' || line[0] > '`' || n == 0 || n > 45 || len(body) < (n+2)/3*4 {
			continue
		}
		var dec []byte
		ok := true
		for i := 0; i+4 <= len(body) && len(dec) < n; i += 4 {
			var q [4]byte
			for j := range q {
				c := body[i+j]
				if c < ' ' || c > '`' {
					ok = false
				}
				q[j] = (c - ' ') & 63
			}
			dec = append(dec, q[0]<<2|q[1]>>4, q[1]<<4|q[2]>>2, q[2]<<6|q[3])
		}
		if !ok {
			continue
		}
		out = append(out, dec[:n]...)
	}
	return out, len(out) >= minLen
}

func strided(b []byte, k, off int) []byte {
	out := make([]byte, 0, len(b)/k+1)
	for i := off; i < len(b); i += k {
		out = append(out, b[i])
	}
	return out
}

func hasLetter(b []byte) bool {
	for _, c := range b {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// oneCase splits r into stretches whose letters are of one case; the
// digits and padding between the last letter of one case and the first of
// the other belong to both stretches.
func oneCase(r []byte) [][]byte {
	var out [][]byte
	start, last := 0, -1 // last: the last letter of the current case
	upper := false
	for i, c := range r {
		isUp, isLow := c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z'
		if !isUp && !isLow {
			continue
		}
		if last >= 0 && isUp != upper {
			out = append(out, r[start:i])
			start = last + 1
		}
		upper, last = isUp, i
	}
	return append(out, r[start:])
}

// hasNonB64: r has a byte outside base64's (and so hex's) alphabet, as
// base85 of any 20 bytes has but for a chance of about 1 in 500.
func hasNonB64(r []byte) bool {
	for i, c := range r {
		// '=' is base64's padding, at its end only: one before another
		// digit is base85's (red team, session 22)
		if !isB64(c) || c == '=' && i+1 < len(r) && r[i+1] != '=' && r[i+1] != '\n' && r[i+1] != '\r' {
			return true
		}
	}
	return false
}

func longest(rs [][]byte, n int) [][]byte {
	if len(rs) <= n {
		return rs
	}
	rs = slices.Clone(rs)
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i]) > len(rs[j]) })
	return rs[:n]
}

// b85 is the alphabet of RFC 1924, Python's base64.b85encode and git.
const b85 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~"

var b85val = func() (t [256]int) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(b85); i++ {
		t[b85[i]] = i
	}
	return t
}()

func isB85(c byte) bool { return b85val[c] >= 0 }

// isA85: Ascii85's digits ('!' to 'u') and 'z', Adobe's <~ ~> framing.
func isA85(c byte) bool { return c >= '!' && c <= 'u' || c == 'z' || c == '~' }

// decodeB85 decodes base85 leniently: a group over 2^32 wraps (the
// result is searched, not trusted), a short last group is padded as
// Python pads it.
func decodeB85(s []byte) []byte {
	out := make([]byte, 0, len(s)*4/5+4)
	for i := 0; i < len(s); i += 5 {
		var acc uint32
		n := min(5, len(s)-i)
		for j := 0; j < 5; j++ {
			d := 84
			if j < n {
				d = b85val[s[i+j]]
			}
			acc = acc*85 + uint32(d)
		}
		var g [4]byte
		binary.BigEndian.PutUint32(g[:], acc)
		out = append(out, g[:max(n-1, 0)]...)
	}
	return out
}

// decodeA85 decodes Ascii85 ('z' for four zero bytes) leniently, as
// decodeB85; Python's base64.a85encode and Adobe's framing.
func decodeA85(s []byte) []byte {
	out := make([]byte, 0, len(s)*4/5+4)
	var grp [5]int
	n := 0
	flush := func(n int) {
		var acc uint32
		for j := 0; j < 5; j++ {
			d := 84
			if j < n {
				d = grp[j]
			}
			acc = acc*85 + uint32(d)
		}
		var g [4]byte
		binary.BigEndian.PutUint32(g[:], acc)
		out = append(out, g[:n-1]...)
	}
	for _, c := range s {
		switch {
		case c == 'z' && n == 0:
			out = append(out, 0, 0, 0, 0)
		case c >= '!' && c <= 'u':
			grp[n] = int(c - '!')
			n++
			if n == 5 {
				flush(5)
				n = 0
			}
		}
	}
	if n > 1 {
		flush(n)
	}
	return out
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isB64(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		c == '+' || c == '/' || c == '-' || c == '_' || c == '=' || c == '\n' || c == '\r'
}

func isB32(c byte) bool {
	return (c >= '2' && c <= '7') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '=' || c == '\n' || c == '\r'
}

// The alphabets as tables, for runs: a call per byte of every view was
// most of the cost of decoding a view.
var hexT, b64T, b32T, b85T, a85T = table(func(c byte) bool { return isHex(c) || c == '\n' || c == '\r' }), table(isB64), table(isB32), table(isB85), table(isA85)

func table(in func(byte) bool) (t [256]bool) {
	for c := range t {
		t[c] = in(byte(c))
	}
	return t
}

// maxRuns bounds the runs of one alphabet decoded per view.
const maxRuns = 16

// runs returns the longest stretches of b whose bytes are all in the
// alphabet, at least n long, longest first.
func runs(b []byte, in *[256]bool, n int) [][]byte { return runsCut(b, in, n, "\r\n=") }

// runsCut is runs with cut the bytes trimmed from a run's ends: base85's
// and Ascii85's runs keep '=', one of their digits (red team, session 22:
// a secret whose base85 began or ended with '=' was decoded a byte short,
// one time in forty, and a program can pad it so every time).
func runsCut(b []byte, in *[256]bool, n int, cut string) [][]byte {
	var out [][]byte
	for i := 0; i < len(b); {
		if !in[b[i]] {
			i++
			continue
		}
		j := i
		for j < len(b) && in[b[j]] {
			j++
		}
		if j-i >= n { // trimming only shortens: a run short already is skipped unset
			if r := bytes.Trim(b[i:j], cut); len(r) >= n {
				out = append(out, r)
			}
		}
		i = j
	}
	if len(out) > maxRuns {
		// Keep the longest: padding is many short runs, a secret one long one.
		sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
		out = out[:maxRuns]
	}
	return out
}

// unescape undoes backslash escapes (\xNN, \uXXXX, \n, \\, \/ ...) and URL
// escapes (%XX, + for space); ok is false when b has none.
func unescape(b []byte) ([]byte, bool) {
	if bytes.IndexByte(b, '\\') < 0 && bytes.IndexByte(b, '%') < 0 {
		return nil, false
	}
	out := make([]byte, 0, len(b))
	changed := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\\' && i+3 < len(b) && b[i+1] == 'x' && isHex(b[i+2]) && isHex(b[i+3]):
			d, _ := hex.DecodeString(string(b[i+2 : i+4]))
			out = append(out, d...)
			i += 3
			changed = true
		case c == '\\' && i+5 < len(b) && b[i+1] == 'u' && isHex(b[i+2]) && isHex(b[i+3]) && isHex(b[i+4]) && isHex(b[i+5]):
			d, _ := hex.DecodeString(string(b[i+2 : i+6]))
			r := rune(d[0])<<8 | rune(d[1])
			if r < 0x100 {
				out = append(out, byte(r))
			} else {
				out = append(out, string(r)...)
			}
			i += 5
			changed = true
		case c == '\\' && i+1 < len(b):
			k := strings.IndexByte(`nrt\/"'0`, b[i+1])
			if k < 0 {
				out = append(out, c)
				continue
			}
			out = append(out, "\n\r\t\\/\"'\x00"[k])
			i++
			changed = true
		case c == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]):
			d, _ := hex.DecodeString(string(b[i+1 : i+3]))
			out = append(out, d...)
			i += 2
			changed = true
		default:
			out = append(out, c)
		}
	}
	return out, changed
}

// unchunk joins the chunks of an HTTP/1.1 chunked body (after the
// headers, or from the start); ok is false when b is not chunked.
func unchunk(b []byte) ([]byte, bool) {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		if !bytes.Contains(bytes.ToLower(b[:i]), []byte("chunked")) {
			return nil, false
		}
		b = b[i+4:]
	}
	var out []byte
	for n := 0; len(b) > 0 && n < 1<<16; n++ {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok {
			break
		}
		line, _, _ = bytes.Cut(line, []byte(";"))
		size := 0
		if len(line) == 0 || len(line) > 8 {
			return out, len(out) > 0
		}
		for _, c := range line {
			if !isHex(c) {
				return out, len(out) > 0
			}
			d, _ := hex.DecodeString("0" + string(c))
			size = size*16 + int(d[0])
		}
		if size == 0 || size > len(rest) {
			out = append(out, rest[:min(size, len(rest))]...)
			break
		}
		out = append(out, rest[:size]...)
		b = bytes.TrimPrefix(rest[size:], []byte("\r\n"))
	}
	return out, len(out) > 0
}

var inflaters sync.Pool

// inflate decompresses the gzip, zlib, bzip2, xz and .lzma streams that
// start in b (at most a few), and b itself as raw deflate, LZMA2 and LZMA.
func inflate(b []byte) []view {
	var out []view
	read := func(enc string, r io.Reader, err error) {
		if err != nil {
			return
		}
		d, _ := io.ReadAll(io.LimitReader(r, MaxInflate))
		if len(d) > 0 {
			out = append(out, view{b: d, enc: enc})
		}
	}
	tries, lz := 0, 0
	for i := 0; i+2 < len(b) && tries < 8; i++ {
		switch {
		case b[i] == 0xfd && lz < 8 && bytes.HasPrefix(b[i:], xzMagic):
			lz++
			if r := unxz(b[i:]); r != nil {
				read("xz", r, nil)
			}
		case b[i] < 9*5*5 && lz < 8 && i+13 < len(b) && b[i+13] == 0 && isAlone(b[i:]):
			lz++
			if r := unlzma(b[i:]); r != nil {
				read("lzma", r, nil)
			}
		case b[i] == 0x1f && b[i+1] == 0x8b && b[i+2] == 8:
			tries++
			r, err := gzip.NewReader(bytes.NewReader(b[i:]))
			read("gzip", r, err)
		case b[i] == 'B' && bytes.HasPrefix(b[i:], []byte("BZh")) && i+10 <= len(b) &&
			b[i+3] >= '1' && b[i+3] <= '9' && bytes.Equal(b[i+4:i+10], []byte("1AY&SY")):
			tries++
			read("bzip2", bzip2.NewReader(bytes.NewReader(b[i:])), nil)
		case b[i] == 0x78 && (uint16(b[i])<<8|uint16(b[i+1]))%31 == 0:
			tries++
			r, err := zlib.NewReader(bytes.NewReader(b[i:]))
			read("zlib", r, err)
		}
	}
	raw := func(enc string, b []byte) {
		// One raw deflate reader reused (its 32 KiB window, allocated
		// anew for every view, was a third of a view's decoding).
		f, _ := inflaters.Get().(io.ReadCloser)
		if f == nil {
			f = flate.NewReader(bytes.NewReader(b))
		} else if f.(flate.Resetter).Reset(bytes.NewReader(b), nil) != nil {
			return
		}
		read(enc, f, nil)
		inflaters.Put(f)
	}
	raw("deflate", b)
	// A zip's deflated entries (red team, session 22: zipfile's
	// ZIP_DEFLATED was no layer): each local file header says where its
	// raw deflate starts; at most 8 of them.
	for i, k := 0, 0; k < 8; k++ {
		j := bytes.Index(b[i:], []byte("PK\x03\x04"))
		if j < 0 {
			break
		}
		i += j
		h := b[i:]
		if len(h) < 30 {
			break
		}
		start := 30 + int(binary.LittleEndian.Uint16(h[26:])) + int(binary.LittleEndian.Uint16(h[28:]))
		if binary.LittleEndian.Uint16(h[8:]) == 8 && start < len(h) {
			raw("zip", h[start:])
		}
		i += 4
	}
	for _, v := range unraw(b) {
		read(v.enc, v.r, nil)
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		raw("deflate", b[i+4:])
	}
	return out
}

// unframeWS reads back the payloads of a client's WebSocket frames, each
// XOR-ed with a 4-byte key of its own that the frame carries (red team,
// session 22: a secret sent three bytes a frame was under 40 keys, no
// repeating one), from the start of b or after an HTTP head (the first 4
// of them); ok when two frames or more read cleanly. A last frame cut
// short gives what it holds.
func unframeWS(b []byte) ([]byte, bool) {
	starts := []int{0}
	for i, k := 0, 0; k < 4; k++ {
		j := bytes.Index(b[i:], []byte("\r\n\r\n"))
		if j < 0 {
			break
		}
		i += j + 4
		starts = append(starts, i)
	}
	for _, st := range starts {
		if out, n := wsFrames(b[st:]); n >= 2 {
			return out, true
		}
	}
	return nil, false
}

// wsFrames unmasks the masked frames at the start of b, in order, up to
// MaxInflate bytes, and counts them.
func wsFrames(b []byte) (out []byte, n int) {
	for len(b) >= 6 && len(out) < MaxInflate {
		h0, h1 := b[0], b[1]
		op := h0 & 0x0f
		if h0&0x70 != 0 || h1&0x80 == 0 || op > 2 && op < 8 || op > 10 {
			break // reserved bits, unmasked (a server's), or no opcode
		}
		l, p := int(h1&0x7f), 2
		switch l {
		case 126:
			if len(b) < 8 {
				return out, n
			}
			l, p = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 14 {
				return out, n
			}
			v := binary.BigEndian.Uint64(b[2:])
			if v > MaxInflate {
				return out, n
			}
			l, p = int(v), 10
		}
		key := b[p : p+4]
		p += 4
		end := min(p+l, len(b))
		for i, c := range b[p:end] {
			out = append(out, c^key[i%4])
		}
		n++
		b = b[end:]
	}
	return out, n
}
