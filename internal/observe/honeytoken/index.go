package honeytoken

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"sort"
	"sync"
)

// The search of one view for every value at once. Each value is looked
// for in several forms: as is, reversed, ROT13-ed, with each byte's bits
// reversed (and those reversed), case-folded, and under a repeating key
// of up to [maxKey] bytes XOR-ed or added byte by byte (forwards or
// reversed), or added with a key that rises or falls by one a byte.
//
// A repeating key of length l cancels out of the data's differences at
// distance l (b[i]^b[i+l] for XOR, b[i+l]-b[i] for addition), so a value
// under any such key is in the data exactly where the value's own
// differences are in the data's: the key is never guessed. Every form of
// every value is cut into windows of [q] bytes, all of them kept in one
// hashed index; the data is probed only every s bytes per key length,
// where s is the number of windows of the shortest pattern of that key
// length: an occurrence of a pattern of p bytes covers p-q+1 consecutive
// window starts, so one of them is on a probed position. A probe that
// hits the index is verified over the whole pattern. The cost is linear
// in the data, about 2·Σ 1/s probes a byte (s from 5 to 33 for moat's
// 40-byte values: under 4 probes a byte for every key length up to 28),
// shared by all values, instead of one substring search per value, key
// length and direction.

// minCaesar is the shortest value looked for under a Caesar shift other
// than ROT13 (the matcher's tokens are all longer).
const minCaesar = 16

// maxKey is the longest repeating key undone: XOR-ed with or added to the
// secret byte by byte (a one-byte key is the classic single-byte XOR or
// Caesar shift of bytes). A key of l bytes needs a value of l+[minKeyed]
// bytes (a value of 40 bytes is found under keys up to 28).
const maxKey = 32

// minKeyed is how many key-independent relations a keyed match must
// satisfy (a value of n bytes under a key of l gives n-l): 12 bytes that
// agree by chance is a 2^-96 coincidence.
const minKeyed = 12

// minKeyed1 is the same for a one-byte key, the classic single-byte XOR
// or shift: 8 relations (a 2^-64 coincidence) let the short values of
// [Search]'s callers (a host name of 9 bytes) be found under it.
const minKeyed1 = 8

// q is the window of the index: one 64-bit word.
const q = 8

// Key operations: a repeating key XOR-ed with the data, or added to it
// (mod 256).
const (
	opXOR = iota
	opAdd
)

// A pattern is one form of one value: its bytes as they are in the data
// (class 0, compared case-folded) or its differences at distance l under
// op (class 1+op*maxKey+l-1), plus delta a byte for a rising (1) or
// falling (255) added key.
type pattern struct {
	p     []byte
	val   int // the value's index
	rank  int // the lower, the more plainly said: the form reported
	class int
	// raw forms
	form []byte // the exact bytes (p is their lower case)
	how  string // "raw", "reversed", ...; the raw value also matches as "case-changed"
	// keyed forms
	v     []byte // the value, forwards or reversed, the key is recovered from
	op, l int
	delta byte
	pre   string // "" or "reversed, "
}

type ref struct {
	pat int32
	off int32
}

// index holds every pattern of a set of values.
type index struct {
	n     int // values
	pats  []pattern
	short []int // patterns shorter than q: searched whole
	bits  []uint64
	shift uint
	at    map[uint64][]ref
	step  [1 + 2*maxKey]int // per class; 0: no pattern of the class
	// aperiodic: no window of the class's patterns has a period of up to
	// maxPeriod, so no window of a periodic stretch of the data can be
	// one (a window of XOR or differences of periodic bytes is periodic).
	aperiodic [1 + 2*maxKey]bool
}

// maxPeriod is the longest period of the data's stretches the scan skips
// (padding: "AAAA", a hex or base64 decoding of it, "abcabc"). A window
// of a random value has such a period by a chance of 2^-24 at most.
const maxPeriod = 5

// minStretch is the shortest periodic stretch skipped.
const minStretch = 64

func periodic(w []byte) bool {
	for p := 1; p <= maxPeriod; p++ {
		j := 0
		for j+p < len(w) && w[j] == w[j+p] {
			j++
		}
		if j+p == len(w) {
			return true
		}
	}
	return false
}

// A stretch of the data that has a period of up to maxPeriod.
type stretch struct{ start, end int }

// stretches lists b's periodic stretches of at least minStretch bytes,
// by their start.
func stretches(b []byte) []stretch {
	var out []stretch
	for p := 1; p <= maxPeriod; p++ {
		run := 0
		for k := 0; k+p <= len(b); k++ {
			if k+p < len(b) && b[k] == b[k+p] {
				run++
				continue
			}
			if run+p >= minStretch {
				out = append(out, stretch{k - run, k + p})
			}
			run = 0
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

func class(op, l int) int { return 1 + op*maxKey + l - 1 }

// newIndex indexes every form of values.
func newIndex(values [][]byte) *index {
	x := &index{n: len(values)}
	add := func(p pattern) {
		x.pats = append(x.pats, p)
	}
	for vi, value := range values {
		rv := reverse(value)
		for r, f := range []struct {
			how string
			v   []byte
		}{{"raw", value}, {"reversed", rv}, {"rot13", rot13(value)}, {"reversed, rot13", rot13(rv)},
			{"bits reversed", bitReverse(value)}, {"reversed, bits reversed", bitReverse(rv)}} {
			add(pattern{p: ASCIILower(f.v), val: vi, rank: r, form: f.v, how: f.how})
		}
		// A Caesar shift of the letters alone (ROT-N, digits and signs
		// kept), forwards and reversed: 48 more windows of the same
		// length, so no more probes (red team, session 18: a shift of 3
		// was not found). Only for values of minCaesar bytes: one of 25
		// shifts of a short name ("chris") is in every few KiB of text.
		if hasLetter(value) && len(value) >= minCaesar {
			for n := byte(1); n < 26; n++ {
				if n == 13 {
					continue // rot13, above
				}
				for _, f := range []struct {
					how string
					v   []byte
				}{{fmt.Sprintf("rot%d", n), rotN(value, n)}, {fmt.Sprintf("reversed, rot%d", n), rotN(rv, n)}} {
					add(pattern{p: ASCIILower(f.v), val: vi, rank: 6, form: f.v, how: f.how})
				}
			}
		}
		rank := 7
		for _, d := range []struct {
			pre string
			v   []byte
		}{{"", value}, {"reversed, ", rv}} {
			for op := opXOR; op <= opAdd; op++ {
				deltas := []byte{0}
				for l := 1; l <= maxKey && (len(d.v)-l >= minKeyed || l == 1 && len(d.v)-l >= minKeyed1); l++ {
					if op == opAdd && l == 1 {
						deltas = []byte{0, 1, 255}
					} else {
						deltas = []byte{0}
					}
					for _, delta := range deltas {
						dv := diff(d.v, op, l)
						for i := range dv {
							dv[i] += delta
						}
						rank++
						if distinct(dv) < 4 {
							continue // a value periodic at l: padding could match it
						}
						add(pattern{p: dv, val: vi, rank: rank + 1000*int(min(delta, 2)), class: class(op, l), v: d.v, op: op, l: l, delta: delta, pre: d.pre})
					}
				}
			}
		}
	}
	for c := range x.aperiodic {
		x.aperiodic[c] = true
	}
	entries := 0
	for i, p := range x.pats {
		if len(p.p) < q {
			x.short = append(x.short, i)
			continue
		}
		w := len(p.p) - q + 1
		entries += w
		if s := x.step[p.class]; s == 0 || w < s {
			x.step[p.class] = w
		}
	}
	// A bitset of 64 bits an entry: a probe that misses the index
	// (nearly all of them) costs one load, not a map lookup.
	x.at = make(map[uint64][]ref, entries)
	lg := max(12, bits.Len(uint(entries*64)))
	x.bits = make([]uint64, 1<<(lg-6))
	x.shift = uint(64 - lg)
	for i, p := range x.pats {
		if len(p.p) < q {
			continue
		}
		for off := 0; off+q <= len(p.p); off++ {
			if periodic(p.p[off : off+q]) {
				x.aperiodic[p.class] = false
			}
			k := mix(binary.LittleEndian.Uint64(p.p[off:]), p.class)
			x.bits[(k>>x.shift)>>6] |= 1 << ((k >> x.shift) & 63)
			x.at[k] = append(x.at[k], ref{int32(i), int32(off)})
		}
	}
	return x
}

// mix hashes a window of class c; for one class it is a bijection (an
// odd multiplier, an xorshift), so windows differ in it where they
// differ in fact.
func mix(w uint64, c int) uint64 {
	k := (w ^ uint64(c)*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	return k ^ k>>31
}

const hi = 0x8080808080808080

// lower8 is ASCIILower of the 8 bytes of w.
func lower8(w uint64) uint64 {
	t := w &^ hi
	up := (t + 0x3f3f3f3f3f3f3f3f) &^ (t + 0x2525252525252525) &^ w & hi
	return w | up>>2
}

// sub8 is x-y byte by byte, each byte mod 256.
func sub8(x, y uint64) uint64 {
	return ((x | hi) - (y &^ hi)) ^ ((x ^ ^y) & hi)
}

// scan returns, per value not done, how the best form of it found in b
// was made ("" where none was).
func (x *index) scan(b []byte, done []bool) []string {
	best := make([]int, x.n)
	how := make([]string, x.n)
	hit := func(pi int, start int) {
		p := &x.pats[pi]
		if done != nil && done[p.val] || start < 0 {
			return
		}
		if how[p.val] != "" && best[p.val] <= p.rank {
			return
		}
		if h, rank, ok := x.verify(p, b, start); ok && (how[p.val] == "" || rank < best[p.val]) {
			how[p.val], best[p.val] = h, rank
		}
	}
	for _, pi := range x.short {
		p := &x.pats[pi]
		if p.class == 0 {
			if i := bytes.Index(b, p.form); i >= 0 {
				hit(pi, i)
			} else if p.rank == 0 {
				if i := bytes.Index(ASCIILower(b), p.p); i >= 0 {
					hit(pi, i)
				}
			}
		}
	}
	probe := func(c int, i int, w uint64) {
		k := mix(w, c)
		if x.bits[(k>>x.shift)>>6]&(1<<((k>>x.shift)&63)) == 0 {
			return
		}
		for _, r := range x.at[k] {
			if x.pats[r.pat].class == c {
				hit(int(r.pat), i-int(r.off))
			}
		}
	}
	// Periodic stretches (padding) are skipped where no pattern could
	// be in them: from a probe whose bytes lie in one, to the first
	// position whose bytes leave it; the probes go on from there every
	// s bytes, so no occurrence outside the stretch loses its probe.
	var st []stretch
	if len(b) >= 4*minStretch {
		st = stretches(b)
	}
	// skip returns where the probes of span bytes go on from i.
	skip := func(c, i, span int, k *int, reach *int) int {
		if !x.aperiodic[c] {
			return i
		}
		for *k < len(st) && st[*k].start <= i {
			*reach = max(*reach, st[*k].end)
			*k++
		}
		if *reach >= i+span {
			return *reach - span + 1
		}
		return i
	}
	if s := x.step[0]; s > 0 {
		k, reach := 0, 0
		for i := 0; i+q <= len(b); i += s {
			if j := skip(0, i, q, &k, &reach); j != i {
				i = j
				if i+q > len(b) {
					break
				}
			}
			probe(0, i, lower8(binary.LittleEndian.Uint64(b[i:])))
		}
	}
	for op := opXOR; op <= opAdd; op++ {
		for l := 1; l <= maxKey; l++ {
			c := class(op, l)
			s := x.step[c]
			if s == 0 {
				continue
			}
			k, reach := 0, 0
			for i := 0; i+l+q <= len(b); i += s {
				if j := skip(c, i, l+q, &k, &reach); j != i {
					i = j
					if i+l+q > len(b) {
						break
					}
				}
				a, z := binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+l:])
				if op == opXOR {
					probe(c, i, a^z)
				} else {
					probe(c, i, sub8(z, a))
				}
			}
		}
	}
	return how
}

// verify checks p whole at start in b; how names the form, with the key
// where there is one (as it lines up with the value's first byte).
func (x *index) verify(p *pattern, b []byte, start int) (string, int, bool) {
	if p.class == 0 {
		if start+len(p.form) > len(b) {
			return "", 0, false
		}
		s := b[start : start+len(p.form)]
		if bytes.Equal(s, p.form) {
			return p.how, p.rank, true
		}
		if p.rank == 0 && bytes.Equal(ASCIILower(s), p.p) {
			return "case-changed", 6, true
		}
		return "", 0, false
	}
	if start+p.l+len(p.p) > len(b) {
		return "", 0, false
	}
	for j, want := range p.p {
		var d byte
		if p.op == opXOR {
			d = b[start+j] ^ b[start+j+p.l]
		} else {
			d = b[start+j+p.l] - b[start+j]
		}
		if d != want {
			return "", 0, false
		}
	}
	key := make([]byte, p.l)
	for j := range key {
		if p.op == opXOR {
			key[j] = b[start+j] ^ p.v[j]
		} else {
			key[j] = b[start+j] - p.v[j]
		}
	}
	if p.op == opXOR {
		return p.pre + "xor 0x" + hex.EncodeToString(key), p.rank, true
	}
	switch p.delta {
	case 1:
		return fmt.Sprintf("%sadd 0x%02x rising by 1 a byte", p.pre, key[0]), p.rank, true
	case 255:
		return fmt.Sprintf("%sadd 0x%02x falling by 1 a byte", p.pre, key[0]), p.rank, true
	}
	return p.pre + "add 0x" + hex.EncodeToString(key), p.rank, true
}

// diff is b's differences at distance l under op: b[i]^b[i+l] for XOR,
// b[i+l]-b[i] for addition.
func diff(b []byte, op, l int) []byte {
	if len(b) <= l {
		return nil
	}
	d := make([]byte, len(b)-l)
	if op == opXOR {
		for i := range d {
			d[i] = b[i] ^ b[i+l]
		}
	} else {
		for i := range d {
			d[i] = b[i+l] - b[i]
		}
	}
	return d
}

// searchIndexes keeps the index of the values [Search] was last asked
// for (its callers ask for a few values on every view of their data),
// bounded.
var searchIndexes = struct {
	sync.Mutex
	m map[string]*index
}{m: map[string]*index{}}

func searchIndex(value []byte) *index {
	searchIndexes.Lock()
	defer searchIndexes.Unlock()
	if x, ok := searchIndexes.m[string(value)]; ok {
		return x
	}
	if len(searchIndexes.m) >= 256 {
		clear(searchIndexes.m)
	}
	x := newIndex([][]byte{value})
	searchIndexes.m[string(value)] = x
	return x
}
