package honeytoken

import (
	"bytes"
	"fmt"
)

// maxFarStride is the widest stride searched for a value spread through
// noise: one byte of it, then up to maxFarStride-1 of noise (red team,
// session 24: 5 bytes of noise after each byte of the AWS key was a
// medium network finding, the strided views stopping at every 4th byte).
const maxFarStride = 64

// farStride looks for each value not found yet, and its reversal, spread
// through b at a stride from maxStride+1 to maxFarStride: each
// occurrence of the value's first byte is tried at every stride whose
// next byte is the value's second, then verified whole. The views of
// strides up to maxStride are searched for every form; these, costing a
// view each, are searched for the value as is and reversed only. It
// returns the encoding found per value ("" for none).
func (m *Matcher) farStride(b []byte, found []bool) []string {
	out := make([]string, len(m.tokens))
	for i, t := range m.tokens {
		if found[i] {
			continue
		}
		for _, f := range [][]byte{[]byte(t.Value), reverse([]byte(t.Value))} {
			if how := strideOf(b, f); how != "" {
				if !bytes.Equal(f, []byte(t.Value)) {
					how += ", reversed"
				}
				out[i] = how
				break
			}
		}
	}
	return out
}

func strideOf(b, f []byte) string {
	n := len(f)
	for p := 0; p < len(b); p++ {
		j := bytes.IndexByte(b[p:], f[0])
		if j < 0 {
			return ""
		}
		p += j
		for s := maxStride + 1; s <= maxFarStride && p+s*(n-1) < len(b); s++ {
			if b[p+s] != f[1] {
				continue
			}
			k := 2
			for k < n && b[p+s*k] == f[k] {
				k++
			}
			if k == n {
				return fmt.Sprintf("every %d bytes from %d", s, p%s)
			}
		}
	}
	return ""
}
