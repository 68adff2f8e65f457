package honeytoken

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"io"
	"sort"
	"strings"
)

// A Matcher finds a run's tokens in data that a program sent, wrote or
// printed, after undoing the encodings malware uses to hide a secret:
// escaping (the \xNN of moat's own events, JSON's \uXXXX, URL %XX), hex
// (base16), base64 and base32 in their standard and URL-safe alphabets,
// zlib, gzip and raw deflate, HTTP chunked bodies, reversal and a
// single-byte XOR, nested up to [MaxDepth] layers (base64 of gzip of a
// reversed value, say). Each layer is tried on every run of its alphabet
// in the data, so padding before or after a secret does not hide it.
//
// The work is bounded: at most [MaxViews] decoded views and
// [MaxScanBytes] bytes per call, decompression stopping at
// [MaxInflate] bytes. What is past the bounds is not searched.
type Matcher struct {
	tokens []Token
}

// Bounds on one Match call.
const (
	MaxDepth     = 4
	MaxViews     = 256
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
	return m
}

type view struct {
	b   []byte
	enc string // layers that made it, outermost first; "" for the data itself
	d   int
}

// Match returns every token found in data, once each, with the first
// encoding found.
func (m *Matcher) Match(data []byte) []Hit {
	if len(m.tokens) == 0 || len(data) < minNeedle {
		return nil
	}
	var hits []Hit
	found := make([]bool, len(m.tokens))
	left := len(m.tokens)
	Walk(data, minNeedle, func(b []byte, enc string) bool {
		for i, t := range m.tokens {
			if found[i] {
				continue
			}
			if how, ok := search(b, []byte(t.Value)); ok {
				found[i] = true
				left--
				hits = append(hits, Hit{ID: t.ID, Encoding: join(enc, how)})
			}
		}
		return left > 0
	})
	return hits
}

// Walk calls fn on data and on every view decoded from it (the layers
// of [Matcher], within its bounds), breadth first, with the layers that
// made it (outermost first; "" for data itself), until fn returns false.
// minLen is the shortest view kept; a run of an encoding's alphabet is
// decoded from twice minLen (hex) or the like: the shortest value looked
// for, encoded. Reversal and single-byte XOR are not views: fn searches
// for them (as [Matcher] does).
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
		if budget <= 0 || v.d >= MaxDepth {
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

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || b == "raw":
		return a
	}
	return a + ", " + b
}

// Search is [Matcher]'s search of one view for value: as is, reversed,
// case-changed or XOR-ed with one byte; how names the form, joined
// after enc, the view's layers.
func Search(b []byte, enc string, value []byte) (how string, ok bool) {
	h, ok := search(b, value)
	if !ok {
		return "", false
	}
	return join(enc, h), true
}

// search looks for value in b as is, reversed, or XOR-ed with one byte,
// case-folded for letters (resolvers and hex change case).
func search(b, value []byte) (string, bool) {
	if bytes.Contains(b, value) {
		return "raw", true
	}
	rev := reverse(value)
	if bytes.Contains(b, rev) {
		return "reversed", true
	}
	if containsFold(b, value) {
		return "case-changed", true
	}
	if k, ok := xorContains(b, value); ok {
		return "xor 0x" + hex.EncodeToString([]byte{k}), true
	}
	if k, ok := xorContains(b, rev); ok {
		return "reversed, xor 0x" + hex.EncodeToString([]byte{k}), true
	}
	return "", false
}

func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}

func containsFold(b, value []byte) bool {
	if len(b) < len(value) {
		return false
	}
	return bytes.Contains(bytes.ToLower(b), bytes.ToLower(value))
}

// xorContains finds value XOR-ed with one non-zero key in b: the key is
// fixed by the first byte, so each position costs one or two compares.
func xorContains(b, value []byte) (byte, bool) {
	n := len(value)
	for i := 0; i+n <= len(b); i++ {
		k := b[i] ^ value[0]
		if k == 0 || b[i+1]^value[1] != k {
			continue
		}
		j := 2
		for j < n && b[i+j]^value[j] == k {
			j++
		}
		if j == n {
			return k, true
		}
	}
	return 0, false
}

// decodings lists what b may be an encoding of, one layer down; the
// reversal of the whole only for the data itself (search tries the
// reversed value in every layer).
func decodings(b []byte, top bool, minLen int) []view {
	var out []view
	minRun := 2 * minLen
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
	if top {
		add("reversed", reverse(b))
	}
	for _, d := range inflate(b) {
		add(d.enc, d.b)
	}
	for _, r := range runs(b, isHex, minRun) {
		for off := 0; off < 2; off++ {
			s := r[off:]
			s = s[:len(s)/2*2]
			if d, err := hex.DecodeString(string(s)); err == nil {
				add("hex", d)
			}
		}
	}
	for _, r := range runs(b, isB64, minRun*2/3) {
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
	for _, r := range runs(b, isB32, minRun*4/5) {
		if !bytes.Equal(r, bytes.ToUpper(r)) && !bytes.Equal(r, bytes.ToLower(r)) {
			continue // base32 is of one case
		}
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

// maxRuns bounds the runs of one alphabet decoded per view.
const maxRuns = 16

// runs returns the longest stretches of b whose bytes are all in the
// alphabet, at least n long, longest first.
func runs(b []byte, in func(byte) bool, n int) [][]byte {
	var out [][]byte
	for i := 0; i < len(b); {
		if !in(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && in(b[j]) {
			j++
		}
		if r := bytes.Trim(b[i:j], "\r\n="); len(r) >= n {
			out = append(out, r)
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

// inflate decompresses the gzip and zlib streams that start in b (at
// most a few), and b itself as raw deflate.
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
	tries := 0
	for i := 0; i+2 < len(b) && tries < 8; i++ {
		switch {
		case b[i] == 0x1f && b[i+1] == 0x8b && b[i+2] == 8:
			tries++
			r, err := gzip.NewReader(bytes.NewReader(b[i:]))
			read("gzip", r, err)
		case b[i] == 0x78 && (uint16(b[i])<<8|uint16(b[i+1]))%31 == 0:
			tries++
			r, err := zlib.NewReader(bytes.NewReader(b[i:]))
			read("zlib", r, err)
		}
	}
	read("deflate", flate.NewReader(bytes.NewReader(b)), nil)
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		read("deflate", flate.NewReader(bytes.NewReader(b[i+4:])), nil)
	}
	return out
}
