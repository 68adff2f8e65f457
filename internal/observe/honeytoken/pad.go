package honeytoken

import "encoding/binary"

// A one-time pad sent with what it hides: the value XOR-ed with a key as
// long as itself, the key in the same data (before or after it, near or
// far, each in an encoding of its own: the views of one Match are joined
// and searched as one). No repeating key undoes it, but the receiver
// needs the key, so the data holds two windows whose XOR is the value
// (red team, session 24: a medium network finding). Every 8-byte window
// of the joined views is indexed; for each value not found yet, each
// window XOR-ed with the value's first 8 bytes is looked up, and a window
// found is verified over the whole value. Two windows of data no program
// made so XOR to a random 16-byte value with a chance of 2^-128.

// maxPad bounds the joined views searched for a pad: a secret and its
// key, or a stolen file's, with room to spare; the index and its lookups
// cost in proportion, for every value.
const maxPad = 32 << 10

// padSteps bounds the candidates find tries per byte of the data.
const padSteps = 4

// padWindow is the bytes of a window the index keys.
const padWindow = 8

// padIndex indexes the 8-byte windows of b: head maps a window to its
// last position, next chains each position to the previous one with the
// same window (-1 ends). Go's maps hash with a seed of their own, so no
// data can be made to collide in it.
type padIndex struct {
	b    []byte
	head map[uint64]int32
	next []int32
	// from are the windows find looks up: those with a byte no text
	// has (binary: a key of random bytes, or the ciphertext it makes).
	from []int32
}

// textByte says whether c is a byte of text: printable ASCII, tab, line
// ends.
func textByte(c byte) bool { return c >= 0x20 && c < 0x7f || c == '\t' || c == '\n' || c == '\r' }

// binaryWindows are the positions of the windows of b with a byte that
// is not text. A pad's key of random bytes has such a byte in every
// window but one in 2^11, and its ciphertext as well: the lookups from
// text (paths, names, most bodies) are skipped, and with them nearly all
// of the search's cost where a program sends text.
func binaryWindows(b []byte) []int32 {
	var out []int32
	last := -1 // the last byte that is not text
	for i := range b {
		if !textByte(b[i]) {
			last = i
		}
		if s := i - padWindow + 1; s >= 0 && last >= s {
			out = append(out, int32(s))
		}
	}
	return out
}

func (x *padIndex) key(i int) uint64 { return binary.LittleEndian.Uint64(x.b[i:]) }

func newPadIndex(b []byte, from []int32) *padIndex {
	n := max(len(b)-padWindow+1, 0)
	x := &padIndex{b: b, head: make(map[uint64]int32, n), next: make([]int32, n), from: from}
	for i := range n {
		p, ok := x.head[x.key(i)]
		if !ok {
			p = -1
		}
		x.next[i] = p
		x.head[x.key(i)] = int32(i)
	}
	return x
}

// find says whether b holds windows at i and j with b[i+t]^b[j+t] == v[t]
// for every t, and where (the first of the two in the data). steps
// bounds the candidates tried (data made of two repeated windows that
// XOR to the value's start makes every position a candidate of every
// other); cut says the bound was reached.
func (x *padIndex) find(v []byte, steps int) (i, j int, ok, cut bool) {
	n, b := len(v), x.b
	if n < padWindow || len(b) < 2*n {
		return 0, 0, false, false
	}
	v0 := binary.LittleEndian.Uint64(v)
	for _, i32 := range x.from {
		i := int(i32)
		if i+n > len(b) {
			break
		}
		p, ok := x.head[x.key(i)^v0]
		for ; ok && p >= 0; p = x.next[p] {
			if steps--; steps < 0 {
				return 0, 0, false, true
			}
			j := int(p)
			if j == i || j+n > len(b) {
				continue
			}
			t := padWindow
			for t < n && b[i+t]^b[j+t] == v[t] {
				t++
			}
			if t == n {
				return min(i, j), max(i, j), true, false
			}
		}
	}
	return 0, 0, false, false
}

// pad looks in joined (the views of one Match, joined) for each value not
// found yet under a one-time pad sent with it; it returns the encoding
// found per value ("" for none).
func (m *Matcher) pad(joined []byte, found []bool) []string {
	out := make([]string, len(m.tokens))
	from := binaryWindows(joined)
	if len(from) == 0 {
		return out // text: no pad of random bytes
	}
	var x *padIndex
	for i, t := range m.tokens {
		if found[i] || m.late() {
			continue
		}
		if x == nil {
			x = newPadIndex(joined, from)
			m.work += int64(len(joined))
		}
		m.work += int64(len(from))
		_, _, ok, cut := x.find([]byte(t.Value), padSteps*len(joined))
		if ok {
			out[i] = "XOR-ed with a one-time pad sent with it"
		}
		if cut {
			m.cut, m.cutBy = true, "work"
		}
	}
	return out
}
