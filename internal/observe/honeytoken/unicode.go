package honeytoken

import (
	"bytes"
	"unicode/utf8"
)

// Unicode forms: a secret hidden in text that shows as something else,
// or as nothing (red team, session 22: each got a planted secret out with
// no finding). Read back:
//
//   - zero-width characters a bit each (U+200B and U+200C, or any two of
//     the invisible ones: eight a byte, the first bit the highest; the
//     other polarity and bit order are the search's XOR and bit
//     reversal);
//   - tag characters (U+E0020..U+E007E, "ASCII smuggling"): each is the
//     ASCII character 0xE0000 below it;
//   - letters and digits drawn from another block: fullwidth, circled,
//     and the mathematical alphanumerics (bold, italic, script, fraktur,
//     double-struck, sans-serif, monospace; the letterlike symbols that
//     fill their holes), read as the ASCII they show;
//   - Morse code (dots and dashes, a letter a group, in one case: the
//     search's changed case finds a token in it).
//
// Each is a view of b only when b holds at least minLen characters of
// its form (a cheap count first: most data has none).

// unicodeViews returns the views the Unicode forms in b decode to.
func unicodeViews(b []byte, top bool, minLen int) []view {
	var out []view
	if n := bytes.Count(b, []byte{'.'}) + bytes.Count(b, []byte{'-'}); top && n >= 2*minLen {
		if d := unmorse(b); len(d) >= minLen {
			out = append(out, view{b: d, enc: "morse"})
		}
	}
	if d, n := shown(b); n >= 8 && n >= shownMin(b) && len(d) >= minLen {
		out = append(out, view{b: d, enc: "as shown"})
	}
	if formRunes(b) < minLen {
		return append(out, codePoints(b, minLen)...)
	}
	var tags, folded []byte
	var zw []rune
	letters := 0
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch a, ok := asciiOf(r); {
		case r >= 0xE0020 && r <= 0xE007E:
			tags = append(tags, byte(r-0xE0000))
		case zeroWidth[r]:
			zw = append(zw, r)
		case ok:
			folded = append(folded, a)
			letters++
			i += n
			continue
		}
		folded = append(folded, b[i:i+n]...)
		i += n
	}
	if len(tags) >= minLen {
		out = append(out, view{b: tags, enc: "tag characters"})
	}
	if letters >= minLen {
		out = append(out, view{b: folded, enc: "unicode letters"})
	}
	if d := zeroWidthBits(zw); len(d) >= minLen {
		out = append(out, view{b: d, enc: "zero-width bits"})
	}
	// last: the forms named above say what they are
	return append(out, codePoints(b, minLen)...)
}

// formRunes counts the characters of the forms above in b by their
// UTF-8 bytes alone (random binary data, a decoded view's, holds many
// lead bytes and almost no such sequence: decoding it whole cost a MiB
// of base64 a fifth more).
func formRunes(b []byte) int {
	n := 0
	for i := 0; i+3 < len(b); i++ {
		c, d, e := b[i], b[i+1], b[i+2]
		if c < 0xe2 || e&0xc0 != 0x80 {
			continue
		}
		switch {
		case c == 0xe2 && (d == 0x80 && e >= 0x8b && e <= 0x8f || d == 0x81 && e >= 0xa0 && e <= 0xa4 ||
			d == 0x84 || d == 0x92 || d == 0x93), // zero-width, letterlike, circled
			c == 0xef && (d == 0xbb && e == 0xbf || d == 0xbc || d == 0xbd),           // BOM, fullwidth
			c == 0xf0 && d == 0x9d && e >= 0x90 && e <= 0x9f && b[i+3]&0xc0 == 0x80,   // mathematical
			c == 0xf3 && d == 0xa0 && (e == 0x80 || e == 0x81) && b[i+3]&0xc0 == 0x80: // tags
			n++
		}
	}
	return n
}

// codePoints reads each run of minLen non-ASCII characters or more in b
// as the low bytes of their code points (red team, session 22: base100,
// a byte b as the emoji U+1F3F7+b, gave nothing): a secret whose bytes
// are a code point's offset from a base is found under the search's added
// key. At most maxRuns runs, the longest.
func codePoints(b []byte, minLen int) []view {
	var runs [][]byte
	var cur []byte
	flush := func() {
		if len(cur) >= minLen {
			runs = append(runs, cur)
		}
		cur = nil
	}
	// Only stretches of 2*minLen bytes of 0x80 or more can hold such a
	// run: found with a byte loop first (random data, a decoded view's,
	// has none; decoding it all cost a MiB of base64 a tenth more).
	for start := 0; start < len(b); {
		for start < len(b) && b[start] < 0x80 {
			start++
		}
		end := start
		for end < len(b) && b[end] >= 0x80 {
			end++
		}
		if end-start < 2*minLen {
			start = end
			continue
		}
		for i := start; i < end; {
			r, n := utf8.DecodeRune(b[i:end])
			if r == utf8.RuneError {
				flush()
				i++
				continue
			}
			cur = append(cur, byte(r))
			i += n
		}
		flush()
		start = end
	}
	var out []view
	for _, r := range longest(runs, maxRuns) {
		out = append(out, view{b: r, enc: "code points"})
	}
	return out
}

// shown is b as a terminal shows it: its ANSI escape sequences (CSI
// "ESC [ ... final", OSC "ESC ] ... BEL or ESC \\", and two-byte ones)
// and its zero-width characters taken out (red team, session 22: a
// secret printed with "ESC [0m" or a zero-width joiner and space after
// each character was a byte in 5 or 7, past the strided views); n counts
// what was taken out. Nothing is made where b has no ESC and no such
// character.
func shown(b []byte) (out []byte, n int) {
	// At most this many are taken out: too few (random data holds some),
	// and the pass is not made.
	most := bytes.Count(b, []byte("\x1b[")) + bytes.Count(b, []byte("\x1b]")) + bytes.Count(b, []byte{0xe2, 0x80}) +
		bytes.Count(b, []byte{0xe2, 0x81}) + bytes.Count(b, []byte{0xef, 0xbb, 0xbf})
	if most < 8 || most < shownMin(b) {
		return nil, 0
	}
	out = make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == 0x1b && i+1 < len(b) && b[i+1] == '[':
			j := i + 2
			for j < len(b) && (b[j] < 0x40 || b[j] > 0x7e) && j-i < 64 {
				j++
			}
			i, n = j+1, n+1
			continue
		case c == 0x1b && i+1 < len(b) && b[i+1] == ']':
			j := i + 2
			for j < len(b) && b[j] != 7 && !(b[j] == 0x1b && j+1 < len(b) && b[j+1] == '\\') && j-i < 512 {
				j++
			}
			if j < len(b) && b[j] == 0x1b {
				j++
			}
			i, n = j+1, n+1
			continue
		case c == 0x1b && i+1 < len(b):
			i += 2 // a two-byte sequence (ESC 7, ESC M): not counted
			continue
		case c >= 0xe2 && i+2 < len(b):
			if r, k := utf8.DecodeRune(b[i:]); zeroWidth[r] {
				i, n = i+k, n+1
				continue
			}
		}
		out = append(out, c)
		i++
	}
	return out, n
}

// shownMin is how many sequences and invisible characters make b's
// shown view: 8 (a secret of 16 bytes, one after every other) in text
// (three quarters of its bytes printable ASCII), and one in 64 bytes of
// anything else (random data, a decoded view's, has a CSI's two bytes
// every 64 KiB: its view cost the matcher as much as the data).
func shownMin(b []byte) int {
	text := 0
	for _, c := range b {
		if c >= 0x20 && c < 0x7f || c == '\n' || c == '\r' || c == '\t' || c == 0x1b {
			text++
		}
	}
	if 4*text >= 3*len(b) {
		return 8
	}
	return max(8, len(b)/64)
}

// zeroWidth are the characters that show as nothing.
var zeroWidth = map[rune]bool{0x200B: true, 0x200C: true, 0x200D: true, 0x200E: true, 0x200F: true,
	0x2060: true, 0x2061: true, 0x2062: true, 0x2063: true, 0x2064: true, 0xFEFF: true, 0x180E: true, 0x034F: true}

// zeroWidthBits reads zw as bits: the two characters most used are 0 (the
// lower) and 1, the others separators, eight bits a byte.
func zeroWidthBits(zw []rune) []byte {
	count := map[rune]int{}
	for _, r := range zw {
		count[r]++
	}
	var one, two rune
	for r, n := range count {
		switch {
		case n > count[one] || n == count[one] && r < one:
			one, two = r, one
		case n > count[two] || n == count[two] && r < two:
			two = r
		}
	}
	if two == 0 {
		return nil
	}
	zero := min(one, two)
	var out []byte
	var c byte
	k := 0
	for _, r := range zw {
		if r != one && r != two {
			continue
		}
		c <<= 1
		if r != zero {
			c |= 1
		}
		if k++; k == 8 {
			out, c, k = append(out, c), 0, 0
		}
	}
	return out
}

// asciiOf is the ASCII letter or digit r shows, when r is one drawn from
// another block.
func asciiOf(r rune) (byte, bool) {
	switch {
	case r < 0x80:
		return 0, false
	case r >= 0xFF01 && r <= 0xFF5E: // fullwidth
		return byte(r - 0xFEE0), true
	case r >= 0x24B6 && r <= 0x24CF: // circled capitals
		return byte('A' + r - 0x24B6), true
	case r >= 0x24D0 && r <= 0x24E9:
		return byte('a' + r - 0x24D0), true
	case r >= 0x1D400 && r <= 0x1D6A3: // mathematical letters, 13 styles of 52
		i := (r - 0x1D400) % 52
		if i < 26 {
			return byte('A' + i), true
		}
		return byte('a' + i - 26), true
	case r >= 0x1D7CE && r <= 0x1D7FF: // mathematical digits, 5 styles of 10
		return byte('0' + (r-0x1D7CE)%10), true
	}
	c, ok := letterlike[r]
	return c, ok
}

// letterlike are the letterlike symbols that stand in the holes of the
// mathematical letters (italic h, script, fraktur, double-struck).
var letterlike = map[rune]byte{0x210E: 'h', 0x212C: 'B', 0x2130: 'E', 0x2131: 'F', 0x210B: 'H', 0x2110: 'I',
	0x2112: 'L', 0x2133: 'M', 0x211B: 'R', 0x212F: 'e', 0x210A: 'g', 0x2134: 'o', 0x212D: 'C', 0x210C: 'H',
	0x2111: 'I', 0x211C: 'R', 0x2128: 'Z', 0x2102: 'C', 0x210D: 'H', 0x2115: 'N', 0x2119: 'P', 0x211A: 'Q',
	0x211D: 'R', 0x2124: 'Z'}

// morseOf is the Morse code of a lower-case letter or digit (and '_').
var morseOf = map[byte]string{'a': ".-", 'b': "-...", 'c': "-.-.", 'd': "-..", 'e': ".", 'f': "..-.", 'g': "--.",
	'h': "....", 'i': "..", 'j': ".---", 'k': "-.-", 'l': ".-..", 'm': "--", 'n': "-.", 'o': "---", 'p': ".--.",
	'q': "--.-", 'r': ".-.", 's': "...", 't': "-", 'u': "..-", 'v': "...-", 'w': ".--", 'x': "-..-", 'y': "-.--",
	'z': "--..", '0': "-----", '1': ".----", '2': "..---", '3': "...--", '4': "....-", '5': ".....", '6': "-....",
	'7': "--...", '8': "---..", '9': "----.", '_': "..--.-", '-': "-....-", '/': "-..-.", '+': ".-.-.", '=': "-...-"}

var morseCode = func() map[string]byte {
	m := map[string]byte{}
	for c, s := range morseOf {
		m[s] = c
	}
	return m
}()

// unmorse reads the groups of dots and dashes in b (any other byte
// separates them; one that is no code is skipped) as the characters
// they code.
func unmorse(b []byte) []byte {
	var out []byte
	for _, g := range bytes.FieldsFunc(b, func(r rune) bool { return r != '.' && r != '-' }) {
		if len(g) > 6 {
			continue
		}
		if c, ok := morseCode[string(g)]; ok {
			out = append(out, c)
		}
	}
	return out
}
