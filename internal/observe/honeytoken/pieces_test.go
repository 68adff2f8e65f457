package honeytoken

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
)

// TestPieces: a value split over parts, each framed or out of order, is
// found when the pieces cover it; not when one part holds it whole (Match
// says so), when they cover only some of it, or in random data.
func TestPieces(t *testing.T) {
	m := NewMatcher([]Token{{ID: "t", Value: val}})
	parts := func(f func(i int, p string) string, n int, order ...int) [][]byte {
		var out [][]byte
		if order == nil {
			for i := 0; i*n < len(val); i++ {
				order = append(order, i)
			}
		}
		for _, i := range order {
			out = append(out, []byte(f(i, val[i*n:min(len(val), (i+1)*n)])))
		}
		return out
	}
	for _, c := range []struct {
		name  string
		parts [][]byte
		want  string // "" for no hit
	}{
		{"numbered", parts(func(i int, p string) string { return fmt.Sprintf("%d:%s", i, p) }, 10), "pieces"},
		{"out of order", parts(func(i int, p string) string { return p }, 10, 3, 1, 0, 2), "pieces"},
		{"hex, in a query", parts(func(i int, p string) string {
			return "GET /c?i=" + fmt.Sprint(i) + "&d=" + hex.EncodeToString([]byte(p))
		}, 8), "pieces, hex"},
		{"8 bytes a part", parts(func(i int, p string) string { return "seq" + fmt.Sprint(i) + "=" + p + ";" }, 8), "pieces"},
		{"one part whole", [][]byte{[]byte("x" + val), []byte("y" + val[:20])}, ""},
		{"half", parts(func(i int, p string) string { return p }, 10, 0, 1), ""},
		{"one part", parts(func(i int, p string) string { return p }, 40), ""},
	} {
		if got := m.Pieces(c.parts); (c.want == "") != (len(got) == 0) || len(got) > 0 && got[0].Encoding != c.want {
			t.Errorf("%s: %v, want %q", c.name, got, c.want)
		}
	}
	// random parts: nothing
	var rnd [][]byte
	for range 16 {
		b := make([]byte, 4096)
		rand.Read(b)
		rnd = append(rnd, b, []byte(hex.EncodeToString(b)))
	}
	if got := m.Pieces(rnd); len(got) > 0 {
		t.Errorf("random data: %v", got)
	}
}
