package honeytoken

import (
	"bytes"
	"math/big"
	"slices"
)

// Char codes: a secret written as the numbers of its bytes, the way
// stealers build strings past a scanner and print or send them (red
// team, issue 12: each of these got a planted secret out with no
// finding). Read back:
//
//   - decimal, one number a byte, any short separator between: list(s)
//     ("[103, 104, ...]"), ",".join(map(str, s)), HTML entities
//     ("&#103;&#104;"), chr(103)+chr(104);
//   - the same numbers as octal where every one is three octal digits
//     ("\147\150", a C string's escapes);
//   - hex, one or two digits a byte, with separators ("67:68",
//     "67 68", "0x67, 0x68"; unseparated hex is the hex layer's);
//   - binary, eight digits a byte, with or without separators;
//   - one big number: int.from_bytes(s) printed in decimal, and a run in
//     base 36 (int(..., 36)'s alphabet) or base 58 (Bitcoin's).
//
// A sequence is cut where a separator passes maxGap bytes or a number
// its byte; only sequences of minLen bytes or more become views, at most
// maxRuns of each form (the longest), each number run at most maxBig
// digits for the big-number forms (their conversion is quadratic).
const (
	maxGap      = 8
	maxBig      = 4096
	maxCaseBits = 64 << 10
)

// codes returns the views char codes in b decode to.
func codes(b []byte, minLen int) []view {
	var out []view
	add := func(enc string, seqs [][]byte) {
		// The short ones go first: random bytes make thousands, and
		// sorting them all cost the search half its time.
		long := seqs[:0:0]
		for _, d := range seqs {
			if len(d) >= minLen {
				long = append(long, d)
			}
		}
		for _, d := range longest(long, maxRuns) {
			out = append(out, view{b: d, enc: enc})
		}
	}
	dec, oct := decimalCodes(b)
	add("decimal char codes", dec)
	add("octal char codes", oct)
	add("hex char codes", hexCodes(b))
	add("binary char codes", binaryCodes(b, minLen))
	add("letter case bits", caseBits(b, minLen))
	add("groups joined", groups(b, minLen))
	for _, r := range longest(runs(b, &digitT, minLen*12/5), 4) {
		add("decimal number", [][]byte{bigBytes(r, 10)})
	}
	for _, r := range longest(runs(b, &b36T, minLen*3/2), 4) {
		if hasLetter(r) && hasDigit(r) {
			add("base36", [][]byte{bigBytes(r, 36)})
		}
	}
	for _, r := range longest(runs(b, &b58T, minLen*4/3), 4) {
		if !hasDigit(r) || !hasLetter(r) {
			continue // a word or a decimal number: no base58
		}
		add("base58", [][]byte{base58Bytes(r)})
	}
	return out
}

var (
	digitT = table(func(c byte) bool { return c >= '0' && c <= '9' })
	b36T   = table(func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' })
	b58T   = table(func(c byte) bool { return b58val[c] >= 0 })
	b58val = func() (t [256]int8) {
		for i := range t {
			t[i] = -1
		}
		for i, c := range "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz" {
			t[c] = int8(i)
		}
		return t
	}()
)

// rot47 rotates the printable ASCII characters (33 to 126) by 47, as
// ROT13 does the letters.
func rot47(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 33 && c <= 126 {
			c = 33 + (c-33+47)%94
		}
		out[i] = c
	}
	return out
}

func hasDigit(b []byte) bool {
	for _, c := range b {
		if c >= '0' && c <= '9' {
			return true
		}
	}
	return false
}

// decimalCodes returns the sequences of decimal numbers up to 255 in b
// separated by at most maxGap bytes, as bytes, and the same sequences
// read as octal where each number is three octal digits.
func decimalCodes(b []byte) (dec, oct [][]byte) {
	var d, o []byte
	octOK := true
	end := -1 // where the last number ended
	flush := func() {
		if len(d) > 0 {
			dec = append(dec, d)
			if octOK {
				oct = append(oct, o)
			}
		}
		d, o, octOK = nil, nil, true
	}
	for i := 0; i < len(b); {
		if b[i] < '0' || b[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if end >= 0 && i-end > maxGap {
			flush()
		}
		v, ov, isOct := 0, 0, j-i == 3
		for _, c := range b[i:j] {
			if v <= 255 {
				v = v*10 + int(c-'0')
			}
			if c > '7' {
				isOct = false
			}
			ov = ov*8 + int(c-'0')
		}
		if v > 255 || j-i > 3 {
			flush()
			end = -1
			i = j
			continue
		}
		d = append(d, byte(v))
		o = append(o, byte(ov))
		octOK = octOK && isOct && ov <= 255
		end = j
		i = j
	}
	flush()
	return dec, oct
}

// hexCodes returns the sequences of one- or two-digit hex numbers in b
// (a 0x prefix allowed) separated by 1 to 4 bytes that are no hex digit.
func hexCodes(b []byte) [][]byte {
	var out [][]byte
	var d []byte
	end := -1
	for i := 0; i < len(b); {
		start := i
		if b[i] == '0' && i+2 < len(b) && (b[i+1] == 'x' || b[i+1] == 'X') && isHex(b[i+2]) {
			i += 2
		}
		if !isHex(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && isHex(b[j]) {
			j++
		}
		if end >= 0 && (start-end > 4 || start == end) {
			if len(d) > 0 {
				out = append(out, d)
			}
			d = nil
		}
		if j-i > 2 {
			if len(d) > 0 {
				out = append(out, d)
			}
			d, end, i = nil, -1, j
			continue
		}
		v := 0
		for _, c := range b[i:j] {
			v = v*16 + int(hexVal(c))
		}
		d = append(d, byte(v))
		end, i = j, j
	}
	if len(d) > 0 {
		out = append(out, d)
	}
	return out
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// binaryCodes returns the bytes of the runs of binary digits in b (a
// single separator allowed between groups of eight), read from each of
// the eight offsets of a run that has no separator.
func binaryCodes(b []byte, minLen int) [][]byte {
	var out [][]byte
	for i := 0; i < len(b); {
		if b[i] != '0' && b[i] != '1' {
			i++
			continue
		}
		var bitsRun []byte
		grouped := false
		j := i
		for j < len(b) {
			if b[j] == '0' || b[j] == '1' {
				bitsRun = append(bitsRun, b[j])
				j++
				continue
			}
			// a separator after a whole group of eight, followed by a digit
			if len(bitsRun)%8 == 0 && j+1 < len(b) && (b[j+1] == '0' || b[j+1] == '1') && b[j] != '\n' {
				grouped = true
				j++
				continue
			}
			break
		}
		i = j
		if len(bitsRun) < 8*minLen {
			continue
		}
		offs := 8
		if grouped {
			offs = 1
		}
		for off := 0; off < offs && len(out) < maxRuns; off++ {
			s := bitsRun[off:]
			d := make([]byte, 0, len(s)/8)
			for k := 0; k+8 <= len(s); k += 8 {
				var v byte
				for _, c := range s[k : k+8] {
					v = v<<1 | (c - '0')
				}
				d = append(d, v)
			}
			out = append(out, d)
		}
	}
	return out
}

// groups joins the short groups of an encoding's alphabet (letters,
// digits, + / =) that separators of up to 4 bytes (space, comma, quotes,
// brackets, '-', ':', ';', line ends) part: base64 as a JSON list of
// 4-character strings, hex in groups of 4 or 8 as a UUID's (red team,
// session 22: each gave nothing). A sequence of 4 groups or more, each
// of 2 to 16 bytes, three in five of one length (a program's chunks, a
// UUID's 8-4-4-4-12; not words, whose lengths vary: their view would
// double a text's search), joined to 2*minLen bytes or more, is a view
// (the layers decode it further), at most maxRuns of them, the longest.
func groups(b []byte, minLen int) [][]byte {
	var out [][]byte
	for i := 0; i < len(b); {
		var joined []byte
		n := 0
		var lens [17]int
		j := i
		for j < len(b) {
			k := j
			for k < len(b) && groupT[b[k]] {
				k++
			}
			if k-j < 2 || k-j > 16 {
				break
			}
			joined = append(joined, b[j:k]...)
			n++
			lens[k-j]++
			s := k
			for s < len(b) && sepT[b[s]] && s-k < 4 {
				s++
			}
			if s == k || s-k >= 4 && s < len(b) && sepT[b[s]] {
				j = k
				break
			}
			j = s
		}
		if n >= 4 && len(joined) >= 2*minLen && 5*slices.Max(lens[:]) >= 3*n {
			out = append(out, joined)
		}
		if j <= i {
			j = i + 1
		}
		// on to the next group's start
		for j < len(b) && groupT[b[j]] && j > 0 && groupT[b[j-1]] {
			j++
		}
		i = j
	}
	return longest(out, maxRuns)
}

var (
	groupT = table(func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c == '/' || c == '='
	})
	sepT = table(func(c byte) bool { return bytes.IndexByte([]byte(" ,\"'-:;[]\n\r\t"), c) >= 0 })
)

// caseBits reads the case of b's ASCII letters as bits (upper 1, lower
// 0; the other polarity and bit order are the search's XOR and bit
// reversal), eight a byte, from each of the eight offsets: a secret in
// the case pattern of names looked up ("uPDatECHeck...", red team,
// session 22: a low "looked up names"). Only where b has at least
// minLen letters of each case in 8*minLen letters, and in data up to
// maxCaseBits (names and short messages: the eight views of a MiB of
// base64 cost its search a fifth more).
func caseBits(b []byte, minLen int) [][]byte {
	if len(b) > maxCaseBits {
		return nil
	}
	var bitsRun []byte
	upper := 0
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			bitsRun = append(bitsRun, 1)
			upper++
		case c >= 'a' && c <= 'z':
			bitsRun = append(bitsRun, 0)
		}
	}
	if len(bitsRun) < 8*minLen || upper < minLen || len(bitsRun)-upper < minLen {
		return nil
	}
	var out [][]byte
	for off := 0; off < 8; off++ {
		s := bitsRun[off:]
		d := make([]byte, 0, len(s)/8)
		for k := 0; k+8 <= len(s); k += 8 {
			var v byte
			for _, c := range s[k : k+8] {
				v = v<<1 | c
			}
			d = append(d, v)
		}
		out = append(out, d)
	}
	return out
}

// bigBytes reads r as one number in base (10 or 36), the first maxBig
// digits, and returns its big-endian bytes.
func bigBytes(r []byte, base int) []byte {
	if len(r) > maxBig {
		r = r[:maxBig]
	}
	n, ok := new(big.Int).SetString(string(r), base)
	if !ok {
		return nil
	}
	return n.Bytes()
}

// base58Bytes reads r as one base58 number (Bitcoin's alphabet; leading
// '1's are zero bytes), the first maxBig digits.
func base58Bytes(r []byte) []byte {
	if len(r) > maxBig {
		r = r[:maxBig]
	}
	n, b58 := new(big.Int), big.NewInt(58)
	zeros := 0
	for i, c := range r {
		if c == '1' && zeros == i {
			zeros++
		}
		n.Mul(n, b58)
		n.Add(n, big.NewInt(int64(b58val[c])))
	}
	return append(make([]byte, zeros), n.Bytes()...)
}
