package honeytoken

import (
	"crypto/rand"
	"strings"
	"testing"
)

// b85enc is Python's base64.b85encode.
func b85enc(b []byte) string {
	var out []byte
	for i := 0; i < len(b); i += 4 {
		var chunk [4]byte
		n := copy(chunk[:], b[i:])
		v := uint32(chunk[0])<<24 | uint32(chunk[1])<<16 | uint32(chunk[2])<<8 | uint32(chunk[3])
		var e [5]byte
		for j := 4; j >= 0; j-- {
			e[j] = b85[v%85]
			v /= 85
		}
		out = append(out, e[:n+1]...)
	}
	return string(out)
}

// TestMatchBase85Equals: base85 whose first or last digit is '=' (red
// team, session 22: runs were trimmed of '=' as base64's padding, so such
// a secret was decoded a byte short: corpus evasive_exfil.py's XOR-ed
// base85 failed one run in ninety, and a program can pad it so always).
func TestMatchBase85Equals(t *testing.T) {
	const tok = "ghp_XkLAOCjFoZKhBqUzPSU1H2Y5fPxc4sAjxeaX"
	x := make([]byte, len(tok))
	for i, c := range []byte(tok) {
		x[i] = c ^ []byte{0x13, 0x37}[i%2]
	}
	enc := b85enc(x)
	if !strings.HasSuffix(enc, "=") {
		t.Fatalf("the case's encoding does not end in '=': %s", enc)
	}
	m := NewMatcher([]Token{{ID: "g", Value: tok}})
	if hits := m.Match([]byte("build: " + enc + "\n")); len(hits) != 1 {
		t.Errorf("base85 ending in '=': hits %v", hits)
	}
	// and any token: its XOR-ed base85 is found every time
	const al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for k := 0; k < 300; k++ {
		r := make([]byte, 36)
		rand.Read(r)
		v := []byte("ghp_")
		for _, c := range r {
			v = append(v, al[int(c)%len(al)])
		}
		for i := range v {
			x[i] = v[i] ^ []byte{0x13, 0x37}[i%2]
		}
		m := NewMatcher([]Token{{ID: "g", Value: string(v)}})
		if hits := m.Match([]byte("build: " + b85enc(x) + "\n")); len(hits) == 0 {
			t.Errorf("missed %s: %s", v, b85enc(x))
		}
	}
}
