package termsafe

import (
	"bytes"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text\n", "plain text\n"},
		{"tab\tok", "tab\tok"},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"over\rwrite", `over\x0dwrite`},
		{"csi \xc2\x9b31m", `csi \xc2\x9b31m`},
		{"é is fine: \xc3\xa9 \xc2\xa0", "é is fine: \xc3\xa9 \xc2\xa0"},
		{"del\x7f", `del\x7f`},
		{"\x00nul", `\x00nul`},
		// A bidi override left open reorders moat's report line after it.
		{"rtl \u202e\u2066", `rtl \u202e\u2066`},
		{"alm \u061c lrm \u200e sep \u2028", `alm \u061c lrm \u200e sep \u2028`},
		{"dash \u2014 arrow \u2192 zh \u4e2d \xd8\xa7", "dash \u2014 arrow \u2192 zh \u4e2d \xd8\xa7"},
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitC1(t *testing.T) {
	var b bytes.Buffer
	w := &Writer{W: &b}
	w.Write([]byte("a\xc2"))
	w.Write([]byte("\x9bb\xc2"))
	w.Flush()
	if got, want := b.String(), `a\xc2\x9bb`+"\xc2"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSplitBidi(t *testing.T) {
	for cut := 1; cut < 3; cut++ {
		var b bytes.Buffer
		w := &Writer{W: &b}
		seq := []byte("x\u202ey")
		w.Write(seq[:1+cut])
		w.Write(seq[1+cut:])
		w.Write([]byte("\xe2"))
		w.Flush()
		if got, want := b.String(), `x\u202ey`+"\xe2"; got != want {
			t.Fatalf("cut after %d bytes: got %q, want %q", cut, got, want)
		}
	}
}

func FuzzWriter(f *testing.F) {
	f.Add([]byte("\x1b[31mred\xc2\x9b"))
	f.Fuzz(func(t *testing.T, p []byte) {
		var b bytes.Buffer
		w := &Writer{W: &b}
		mid := len(p) / 2
		w.Write(p[:mid])
		w.Write(p[mid:])
		w.Flush()
		out := b.Bytes()
		for i, c := range out {
			if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
				t.Fatalf("control byte %#x at %d in %q", c, i, out)
			}
			if c == 0xc2 && i+1 < len(out) && out[i+1] >= 0x80 && out[i+1] <= 0x9f {
				t.Fatalf("C1 control at %d in %q", i, out)
			}
			if r, ok := control(out[i:min(i+3, len(out))]); ok || (i+2 <= len(out) && func() bool { _, ok := control(out[i : i+2]); return ok }()) {
				t.Fatalf("control %U at %d in %q", r, i, out)
			}
		}
	})
}

func TestLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"one", 0, "one"},
		{"  first \nsecond\n", 0, "first"},
		{"\n\nlate", 0, "late"},
		{"abcdef", 3, "abc"},
		{"héllo", 2, "h"}, // never half a rune
		{"x\r\ny", 0, "x"},
	} {
		if got := Line(c.in, c.max); got != c.want {
			t.Errorf("Line(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

func TestInline(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"test_x", "test_x"},
		{"a\nPASSED everything\n", `a\nPASSED everything\n`},
		{"tab\there", `tab\there`},
		{"\x1b[1A\r", `\x1b[1A\x0d`},
		{"rtl \u202egnp.exe", `rtl \u202egnp.exe`},
		{"sep\u2028x\u2029", `sep\u2028x\u2029`},
		{"ünïcode ok", "ünïcode ok"},
		{"a\u200bb.desktop", `a\u200bb.desktop`},
		{"x\ufeff\u2060\u00ady", `x\ufeff\u2060\u00ady`},
	} {
		if got := Inline(tc.in); got != tc.want {
			t.Errorf("Inline(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
