package honeytoken

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
)

// shuffled is base64's alphabet in an order of a program's own.
func shuffled(seed uint64) string {
	a := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
	r := rand.New(rand.NewPCG(seed, 1))
	r.Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
	return string(a)
}

func atbash(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'z' - (r - 'a')
		case r >= 'A' && r <= 'Z':
			return 'Z' - (r - 'A')
		}
		return r
	}, s)
}

// repeated is a value like a GitHub token with the repeats of a typical
// one (its 40 characters of 62 repeat about 10 times).
const repeated = "ghp_aB3aQ9zzK1mB3xyQaP0cc7LmnQ9ZtT5aaKW1"

// TestMatchSubstitution: a value's base64 in a shuffled alphabet at each
// alignment (in JSON, after a prefix of 1 and 2 bytes), a value under
// Atbash and under a keyword alphabet of every printable character, are
// found; before, none was (red team, session 22's list).
func TestMatchSubstitution(t *testing.T) {
	m := NewMatcher([]Token{{ID: "t", Value: val}, {ID: "r", Value: repeated}})
	enc := func(alphabet, s string) string {
		return base64.NewEncoding(alphabet).EncodeToString([]byte(s))
	}
	perm := []byte(" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~")
	r := rand.New(rand.NewPCG(7, 7))
	keyword := map[rune]rune{}
	p := r.Perm(len(perm) - 1)
	for i, j := range p {
		keyword[rune(perm[i+1])] = rune(perm[j+1])
	}
	for _, c := range []struct{ name, data, id, how string }{
		{"own alphabet", `{"d": "` + enc(shuffled(1), val) + `"}`, "t", "base64 (own alphabet)"},
		{"own alphabet, 1 byte before", enc(shuffled(2), "x"+val+"\n"), "t", "base64 (own alphabet)"},
		{"own alphabet, 2 bytes before", "data=" + enc(shuffled(3), "k="+val), "t", "base64 (own alphabet)"},
		{"atbash", "print('" + atbash(repeated) + "')", "r", "substitution"},
		{"keyword, reversed", strings.Map(func(c rune) rune { return keyword[c] }, rev(repeated)), "r", "reversed, substitution"},
	} {
		hits := m.Match([]byte(c.data))
		if len(hits) != 1 || hits[0].ID != c.id || hits[0].Encoding != c.how {
			t.Errorf("%s: hits %+v, want %s as %q", c.name, hits, c.id, c.how)
		}
	}
}

// TestSubstitutionNoChance: a MiB of random base64 and of random
// printable text, and text with long runs of words, match no value under
// a substitution.
func TestSubstitutionNoChance(t *testing.T) {
	m := NewMatcher([]Token{{ID: "t", Value: val}, {ID: "r", Value: repeated}})
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	printable := make([]byte, len(b))
	for i := range printable {
		printable[i] = byte(0x21 + r.IntN(94))
	}
	text := strings.Repeat("the_quick-brown.fox/jumps+over=the&lazy?dog;", 1<<14)
	for name, d := range map[string][]byte{"base64": []byte(base64.StdEncoding.EncodeToString(b)), "printable": printable, "text": []byte(text)} {
		if hits := m.subst.scan(d, make([]bool, 2), 2); hits != nil {
			t.Errorf("%s: %v", name, hits)
		}
	}
}
