package honeytoken

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

const val = "Q7hZk2mVfP9xLr4TnW8bYc3JdS6gHa1Ee5uKo0Ri"

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zl(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, 9)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func xor(b []byte, k byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ k
	}
	return out
}

func rev(s string) string { return string(reverse([]byte(s))) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// escape is moat's own escaping of event data (egress.Escape).
func escape(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\x%02x`, c)
		}
	}
	return sb.String()
}

func chunked(s string, n int) string {
	var sb strings.Builder
	sb.WriteString("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	for len(s) > 0 {
		k := min(n, len(s))
		fmt.Fprintf(&sb, "%x\r\n%s\r\n", k, s[:k])
		s = s[k:]
	}
	sb.WriteString("0\r\n\r\n")
	return sb.String()
}

// matchCase is data that holds val, and how the matcher should say it
// was encoded ("a|b": either).
type matchCase struct{ name, data, enc string }

func checkHits(t *testing.T, cases []matchCase) {
	t.Helper()
	m := NewMatcher([]Token{{ID: "t", Value: val}, {ID: "other", Value: "m3Xq8LwP0vRt6YsN2bKc"}})
	for _, c := range cases {
		hits := m.Match([]byte(c.data))
		if len(hits) != 1 || hits[0].ID != "t" {
			t.Errorf("%s: hits %+v, want t", c.name, hits)
			continue
		}
		if !strings.Contains("|"+c.enc+"|", "|"+hits[0].Encoding+"|") {
			t.Errorf("%s: encoding %q, want %q", c.name, hits[0].Encoding, c.enc)
		}
	}
}

func TestMatchEncodings(t *testing.T) {
	v := []byte(val)
	pad := strings.Repeat("A", 4096)
	pad1 := strings.Repeat("x", 4097)
	js, _ := json.Marshal(map[string]string{"k": "\n" + val})
	jsu := ""
	for _, c := range val {
		jsu += fmt.Sprintf(`\u%04x`, c)
	}
	pct := ""
	for _, c := range []byte(val) {
		pct += fmt.Sprintf("%%%02X", c)
	}
	cases := []matchCase{
		{"raw", "key=" + val, "raw"},
		{"raw after 4 KiB of padding", pad + val + pad, "raw"},
		{"hex", "d=" + hex.EncodeToString(v), "hex"},
		{"upper hex (base16)", "d=" + strings.ToUpper(hex.EncodeToString(v)), "hex"},
		{"a byte in 6, noise between", func() string {
			var b strings.Builder
			for i := 0; i < len(val); i++ {
				b.WriteString(val[i:i+1] + "abcde")
			}
			return b.String()
		}(), "every 6 bytes from 0"},
		{"a byte in 40 after a byte, reversed", func() string {
			var b strings.Builder
			b.WriteString("x")
			r := reverse([]byte(val))
			for i := range r {
				b.WriteString(string(r[i:i+1]) + strings.Repeat("-", 39))
			}
			return b.String()
		}(), "every 40 bytes from 1, reversed"},
		{"hex in lines (xxd -p)", func() string {
			s := hex.EncodeToString(append([]byte("[pypi]\npassword = "), v...))
			return s[:40] + "\n" + s[40:80] + "\r\n" + s[80:] + "\n"
		}(), "hex"},
		{"hex after odd padding of hex digits", strings.Repeat("a", 4097) + hex.EncodeToString(v), "hex"},
		{"base64", "d=" + b64(v), "base64"},
		{"base64 at offset 1", "d=" + b64(append([]byte("z"), v...)), "base64"},
		{"base64 at offset 2", b64(append([]byte("zz"), v...)), "base64"},
		{"base64 after 4 KiB", pad1 + b64(v), "base64"},
		{"base64 in lines", func() string {
			s := b64(append(bytes.Repeat([]byte{7}, 50), v...))
			return s[:30] + "\n" + s[30:60] + "\r\n" + s[60:]
		}(), "base64"},
		{"urlsafe base64", base64.URLEncoding.EncodeToString(append([]byte{0xfb, 0xff}, v...)), "urlsafe-base64"},
		{"raw urlsafe base64", "t=" + base64.RawURLEncoding.EncodeToString(v), "base64"},
		{"base32", base32.StdEncoding.EncodeToString(v), "base32"},
		{"lower base32 without padding", strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(append([]byte("abc"), v...))), "base32"},
		{"reversed", "x" + rev(val), "reversed"},
		{"base64 reversed", rev(b64(v)), "reversed, base64"},
		{"base64 of reversed", b64([]byte(rev(val))), "base64, reversed"},
		{"xor 0x5a escaped", escape(xor(v, 0x5a)), "escaped, xor 0x5a"},
		{"xor 0x01 base64", b64(xor(v, 1)), "base64, xor 0x01"},
		{"xor of reversed, hex", hex.EncodeToString(xor([]byte(rev(val)), 0x77)), "hex, reversed, xor 0x77"},
		{"gzip base64", b64(gz(v)), "base64, gzip"},
		{"gzip escaped", escape(gz([]byte(pad + val))), "escaped, gzip"},
		{"zlib escaped", "POST / HTTP/1.1\r\n\r\n" + escape(zl(v)), "escaped, zlib"},
		{"zlib hex", hex.EncodeToString(zl(v)), "hex, zlib"},
		{"raw deflate base64", b64(deflate(v)), "base64, deflate"},
		{"json escapes", string(js), "raw"},
		{"json unicode escapes", `{"k":"` + jsu + `"}`, "escaped"},
		{"json escaped then moat-escaped", escape([]byte(`{"k":"` + jsu + `"}`)), "escaped, escaped"},
		{"url escaped", "q=" + pct, "escaped"},
		{"url query escape of base64", "q=" + url.QueryEscape(b64(append([]byte{0xfb, 0xef}, v...))), "base64|escaped, base64"},
		{"http chunked", chunked(val, 5), "http chunked"},
		{"case changed (a resolver's 0x20)", strings.ToUpper(val), "case-changed"},
		{"base64 of gzip of xor", b64(gz(xor(v, 0x42))), "base64, gzip, xor 0x42"},
	}
	checkHits(t, cases)
}

// TestMatchEvasions: the encodings a program used to get a secret past
// the matcher (red team of issue 12): each was not found before.
func TestMatchEvasions(t *testing.T) {
	v := []byte(val)
	pad := strings.Repeat("A", 4096)
	xorKey := func(b []byte, key ...byte) []byte {
		out := make([]byte, len(b))
		for i, c := range b {
			out[i] = c ^ key[i%len(key)]
		}
		return out
	}
	addKey := func(b []byte, key ...byte) []byte {
		out := make([]byte, len(b))
		for i, c := range b {
			out[i] = c + key[i%len(key)]
		}
		return out
	}
	bitrev := func(b []byte) []byte {
		out := make([]byte, len(b))
		for i, c := range b {
			var r byte
			for j := 0; j < 8; j++ {
				r |= (c >> j & 1) << (7 - j)
			}
			out[i] = r
		}
		return out
	}
	interleave := func(b []byte, k int) []byte {
		var out []byte
		for i, c := range b {
			out = append(out, c)
			for j := 1; j < k; j++ {
				out = append(out, "qzjx"[(i+j)%4])
			}
		}
		return out
	}
	bz := func(b []byte) []byte {
		// bzip2 -c of val (Go's standard library only decompresses).
		d, err := hex.DecodeString(bz2Val)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	cases := []matchCase{
		{"base85 (Python b85encode)", "id=" + b85Python(v), "base85"},
		{"base85 after padding", pad + " " + b85Python(append([]byte("xyz"), v...)), "base85"},
		{"ascii85 (Python a85encode)", "id=" + a85Python(v), "ascii85"},
		{"ascii85, Adobe's framing", "<~" + a85Python(append([]byte{0, 0, 0, 0}, v...)) + "~>", "ascii85"},
		{"rot13", "x" + string(rot13Ref(v)), "rot13"},
		{"rot13 of base32", string(rot13Ref([]byte(base32.StdEncoding.EncodeToString(v)))), "rot13, base32"},
		{"base32 printed, then a word in lower case", "id: " + base32.StdEncoding.EncodeToString(v) + "\ndone\n", "base32"},
		{"rot13 of base32 printed, then a word", "id: " + string(rot13Ref([]byte(base32.StdEncoding.EncodeToString(v)))) + "\ndone\n", "rot13, base32"},
		{"a byte added", hex.EncodeToString(addKey(v, 7)), "hex, add 0x07"},
		{"xor with a 2-byte key", hex.EncodeToString(xorKey(v, 0x13, 0x37)), "hex, xor 0x1337"},
		{"xor with an 8-byte key behind padding", pad + string(xorKey(v, []byte("s3cr3tK!")...)), "xor 0x7333637233744b21"},
		{"a 3-byte key added, reversed, base64", b64(addKey([]byte(rev(val)), 1, 2, 3)), "base64, reversed, add 0x010203"},
		{"bits reversed", hex.EncodeToString(bitrev(v)), "hex, bits reversed"},
		{"interleaved with noise", string(interleave(v, 2)), "every 2 bytes from 0"},
		{"interleaved 1 in 4, hex", string(interleave([]byte(hex.EncodeToString(v)), 4)), "every 4 bytes from 0, hex"},
		{"bzip2 base64", b64(bz(v)), "base64, bzip2"},
		{"xor with a 16-byte key behind padding", pad + string(xorKey(v, []byte("0123456789abcdef")...)), "xor 0x30313233343536373839616263646566"},
		{"xor with a 20-byte key between periodic padding (skipped by the scan)", strings.Repeat("abc", 1000) + string(xorKey(v, []byte("twenty bytes of key!")...)) + strings.Repeat("\x00\x01", 1000), "xor 0x7477656e7479206279746573206f66206b657921"},
		{"raw between periodic padding", strings.Repeat("abcd", 1000) + val + strings.Repeat("abcd", 1000), "raw"},
		{"xor with a 28-byte key, base64", b64(xorKey(v, []byte("a key of twenty-eight bytes!")...)), "base64, xor 0x61206b6579206f66207477656e74792d656967687420627974657321"},
		{"a 21-byte key added, reversed, hex", hex.EncodeToString(addKey([]byte(rev(val)), []byte("twenty-one bytes long")...)), "hex, reversed, add 0x7477656e74792d6f6e65206279746573206c6f6e67"},
		{"a rising key added", string(func() []byte {
			out := []byte(pad)
			for i, c := range v {
				out = append(out, c+byte(0x90+i))
			}
			return out
		}()), "add 0x90 rising by 1 a byte"},
		{"xz (Python lzma.compress)", "x" + unhex(t, xzVal), "xz"},
		{"lzma (FORMAT_ALONE), base64", b64([]byte(unhex(t, aloneVal))), "base64, lzma"},
		{"raw lzma2 (FORMAT_RAW, FILTER_LZMA2), base64", b64([]byte(unhex(t, raw2Val))), "base64, raw lzma2"},
		{"raw lzma (FORMAT_RAW, FILTER_LZMA1), base64", b64([]byte(unhex(t, raw1Val))), "base64, raw lzma"},
		{"rot13 of base32 behind 600 short labels (a run-wide DNS stream)", string(rot13Ref([]byte(strings.ToLower(base32.StdEncoding.EncodeToString(v))))) + func() string {
			var sb strings.Builder
			for i := 0; i < 600; i++ {
				fmt.Fprintf(&sb, "img%d", i)
			}
			return sb.String()
		}(), "rot13, base32"},
	}
	checkHits(t, cases)
}

// Python's lzma.compress(p, ...) of p = b'x=1;'*200 + val + b'y=2;'*200:
// FORMAT_XZ, FORMAT_ALONE, FORMAT_RAW with FILTER_LZMA2 and FILTER_LZMA1
// (none holds val as is).
const (
	xzVal    = "fd377a585a000004e6d6b4460200210116000000742fe5a3e0066700415d003c0f4223f6a020941dd90a9f149f96d38e6ae11b042559a44fa5f26d147a361db1636aec27e9351f39ab7cc36daf3a4c80a26485817e980518d5a34b20ba091e0000000000fa7f6ffc4d2905ef00015de80c00000052fc3721b1c467fb020000000004595a"
	aloneVal = "5d00008000ffffffffffffffff003c0f4223f6a020941dd90a9f149f96d38e6ae11b042559a44fa5f26d147a361db1636aec27e9351f39ab7cc36daf3a4c80a26485817e980518d5a34b20c4e1909ffffb7d4000"
	raw2Val  = "e0066700415d003c0f4223f6a020941dd90a9f149f96d38e6ae11b042559a44fa5f26d147a361db1636aec27e9351f39ab7cc36daf3a4c80a26485817e980518d5a34b20ba091e0000"
	raw1Val  = "003c0f4223f6a020941dd90a9f149f96d38e6ae11b042559a44fa5f26d147a361db1636aec27e9351f39ab7cc36daf3a4c80a26485817e980518d5a34b20c4e1909ffffb7d4000"
)

func unhex(t *testing.T, s string) string {
	d, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(d)
}

// TestLZMABomb: an xz or .lzma header that names a dictionary of 4 or 2
// GiB over a stream of 8 MiB of zeros costs what any decompression
// costs: no view over MaxInflate, and far less allocated than the
// header asks for.
func TestLZMABomb(t *testing.T) {
	zeros := func(w io.WriteCloser, err error) {
		if err != nil {
			t.Fatal(err)
		}
		w.Write(make([]byte, 8<<20))
		w.Close()
	}
	var buf, lz bytes.Buffer
	zeros(xz.NewWriter(&buf))
	zeros(lzma.NewWriter(&lz))
	bomb := buf.Bytes()
	// The block header (12 bytes after the stream's 12): its LZMA2
	// dictionary code to 40 (4 GiB - 1), its CRC32 made again.
	h := bomb[12:]
	size := (int(h[0]) + 1) * 4
	i := bytes.Index(h[:size], []byte{0x21, 1})
	if i < 0 {
		t.Fatalf("no LZMA2 filter in %x", h[:size])
	}
	h[i+2] = 40
	binary.LittleEndian.PutUint32(h[size-4:], crc32.ChecksumIEEE(h[:size-4]))
	if _, err := xz.NewReader(bytes.NewReader(bomb)); err != nil {
		t.Fatalf("the bomb is no xz stream: %v", err)
	}
	// The .lzma header's dictionary to 2 GiB.
	alone := append([]byte{0x5d, 0, 0, 0, 0x80}, bytes.Repeat([]byte{0xff}, 8)...)
	alone = append(alone, lz.Bytes()[13:]...)
	for name, data := range map[string][]byte{"xz": bomb, "lzma": alone} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		seen := 0
		Walk(data, minNeedle, func(b []byte, enc string) bool {
			if len(b) > MaxInflate {
				t.Errorf("%s: a view of %d bytes (%s)", name, len(b), enc)
			}
			if enc == name {
				seen++
			}
			return true
		})
		runtime.ReadMemStats(&after)
		if seen == 0 {
			t.Errorf("%s: never decoded", name)
		}
		if a := after.TotalAlloc - before.TotalAlloc; a > 256<<20 {
			t.Errorf("%s: %d MiB allocated", name, a>>20)
		}
	}
}

// TestSWAR: the word-wide lower case and byte differences of the index
// are those of the bytes one by one.
func TestSWAR(t *testing.T) {
	var x, y [8]byte
	for i := range 1 << 16 {
		for j := range x {
			x[j], y[j] = byte(i*7+j*37), byte(i*13+j*101+i>>8)
		}
		x[i%8], y[(i+3)%8] = byte(i), byte(i>>8)
		wx, wy := binary.LittleEndian.Uint64(x[:]), binary.LittleEndian.Uint64(y[:])
		var low, sub [8]byte
		binary.LittleEndian.PutUint64(low[:], lower8(wx))
		binary.LittleEndian.PutUint64(sub[:], sub8(wx, wy))
		if !bytes.Equal(low[:], ASCIILower(x[:])) {
			t.Fatalf("lower8(%x) = %x", x, low)
		}
		for j := range x {
			if sub[j] != x[j]-y[j] {
				t.Fatalf("sub8(%x, %x) = %x", x, y, sub)
			}
		}
	}
}

// bz2Val is `printf %s "$val" | bzip2 -9 | xxd -p`.
const bz2Val = "425a6839314159265359af5f85db0000080f807fe0025c7db03feb924020002300000034069e933ca86191a69a646132304d0186eece9cb56dcaaa4b41f9d83730415f61107a8e2c2083f8bb9229c284857afc2ed8"

// b85Python is Python's base64.b85encode, written out apart from the
// decoder under test.
func b85Python(b []byte) string {
	const alpha = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~"
	return enc85(b, alpha, false)
}

// a85Python is Python's base64.a85encode (z for a zero group).
func a85Python(b []byte) string {
	var alpha [85]byte
	for i := range alpha {
		alpha[i] = byte('!' + i)
	}
	return enc85(b, string(alpha[:]), true)
}

func enc85(b []byte, alpha string, z bool) string {
	var sb strings.Builder
	for i := 0; i < len(b); i += 4 {
		var g [4]byte
		n := copy(g[:], b[i:])
		acc := uint32(g[0])<<24 | uint32(g[1])<<16 | uint32(g[2])<<8 | uint32(g[3])
		if z && acc == 0 && n == 4 {
			sb.WriteByte('z')
			continue
		}
		var d [5]byte
		for j := 4; j >= 0; j-- {
			d[j] = alpha[acc%85]
			acc /= 85
		}
		sb.Write(d[:n+1])
	}
	return sb.String()
}

func rot13Ref(b []byte) []byte {
	return []byte(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, string(b)))
}

func TestMatchNothing(t *testing.T) {
	m := NewMatcher([]Token{{ID: "t", Value: val}, {ID: "short", Value: "abc"}})
	for _, d := range []string{
		"",
		val[:20],
		val[:20] + " " + val[20:],
		strings.Repeat("A", 1<<16),
		b64([]byte(val[:14])),
		hex.EncodeToString([]byte(val[1:])),
		"GET /simple/requests/ HTTP/1.1\r\nHost: pypi.org\r\n\r\n",
	} {
		if hits := m.Match([]byte(d)); hits != nil {
			t.Errorf("%.40q: hits %+v", d, hits)
		}
	}
	if hits := m.Match([]byte("abcabcabcabcabcabcabc")); hits != nil {
		t.Errorf("a short value matched: %+v", hits)
	}
	// A value of few distinct bytes is no secret: padding XOR-ed would match it.
	m = NewMatcher([]Token{{ID: "flat", Value: strings.Repeat("Z", 20)}})
	if hits := m.Match([]byte(strings.Repeat("A", 100))); hits != nil {
		t.Errorf("a flat value matched padding: %+v", hits)
	}
}

func TestMatchSeveral(t *testing.T) {
	m := NewMatcher([]Token{{ID: "a", Value: val}, {ID: "b", Value: rev(val) + "xyz"}})
	hits := m.Match([]byte(b64([]byte(val)) + " " + hex.EncodeToString([]byte(rev(val)+"xyz"))))
	if len(hits) != 2 {
		t.Fatalf("%+v", hits)
	}
}

// FuzzMatch: any input, any wrapping of a token, never panics; a token
// wrapped in an encoding the matcher knows is always found.
func FuzzMatch(f *testing.F) {
	f.Add([]byte("hello"), byte(0), uint8(0))
	f.Add([]byte(strings.Repeat("A", 5000)), byte(0x33), uint8(3))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0}, byte(1), uint8(5))
	f.Add([]byte{0x78, 0x9c, 1, 2}, byte(9), uint8(7))
	f.Add([]byte(`\u00\x4%4`), byte(9), uint8(2))
	m := NewMatcher([]Token{{ID: "t", Value: val}})
	f.Fuzz(func(t *testing.T, pad []byte, k byte, how uint8) {
		if len(pad) > 1<<16 {
			return
		}
		_ = m.Match(pad) // arbitrary input
		v := []byte(val)
		var data []byte
		switch how % 8 {
		case 0:
			data = append(append(pad, v...), pad...)
		case 1:
			data = append(pad, hex.EncodeToString(v)...)
		case 2:
			data = append(append(pad, ' '), b64(v)...)
		case 3:
			data = append(pad, xor(v, k|1)...)
		case 4:
			data = append(append(pad, ' '), b64(gz(v))...)
		case 5:
			data = append(pad, reverse(v)...)
		case 6:
			data = append(append([]byte{}, pad...), escape(append(pad, v...))...)
		case 7:
			data = append(append(pad, '&'), url.QueryEscape(base64.URLEncoding.EncodeToString(append(pad[:min(len(pad), 2)], v...)))...)
		}
		if hits := m.Match(data); len(hits) != 1 {
			t.Fatalf("how %d: %+v in %.80q", how%8, hits, data)
		}
	})
}

// TestMatchCharCodes: a secret written as its bytes' numbers or in a
// base the other layers lack (red team, issue 12, session 18): each got
// a planted secret out with no finding before.
func TestMatchCharCodes(t *testing.T) {
	v := []byte(val)
	each := func(f string, sep string) string {
		var p []string
		for _, c := range v {
			p = append(p, fmt.Sprintf(f, c))
		}
		return strings.Join(p, sep)
	}
	rot47 := func(b []byte) string {
		out := make([]byte, len(b))
		for i, c := range b {
			if c >= 33 && c <= 126 {
				c = 33 + (c-33+47)%94
			}
			out[i] = c
		}
		return string(out)
	}
	n := new(big.Int).SetBytes(v)
	b58 := func() string {
		const a = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
		var out []byte
		m := new(big.Int).Set(n)
		r := new(big.Int)
		for m.Sign() > 0 {
			m.DivMod(m, big.NewInt(58), r)
			out = append([]byte{a[r.Int64()]}, out...)
		}
		return string(out)
	}
	xorRev := func() string {
		out := make([]byte, len(v))
		for i, c := range v {
			out[len(v)-1-i] = c ^ 0x42
		}
		return string(out)
	}
	cases := []matchCase{
		{"list(s)", "codes " + fmt.Sprint(func() []int {
			var o []int
			for _, c := range v {
				o = append(o, int(c))
			}
			return o
		}()), "decimal char codes"},
		{"python list repr", "[" + each("%d", ", ") + "]", "decimal char codes"},
		{"comma joined behind numbers", strings.Repeat("1000,", 500) + each("%d", ","), "decimal char codes"},
		{"chr() concatenation", each("chr(%d)", "+"), "decimal char codes"},
		{"html entities", each("&#%d;", ""), "decimal char codes"},
		{"octal escapes", each(`\%03o`, ""), "octal char codes"},
		{"hex with colons", each("%02x", ":"), "hex char codes"},
		{"hex with spaces", each("%02X", " "), "hex char codes"},
		{"0x list", "{" + each("0x%x", ", ") + "}", "hex char codes"},
		{"binary", each("%08b", ""), "binary char codes"},
		{"binary grouped", each("%08b", " "), "binary char codes"},
		{"one decimal number", "n=" + n.String(), "decimal number"},
		{"base36", "id " + n.Text(36), "base36"},
		{"base58", "addr " + b58(), "base58"},
		{"rot47", "x " + rot47(v), "rot47"},
		{"char codes of a reversed, xor-ed secret", each("%d", ",")[:0] + func() string {
			var p []string
			for _, c := range []byte(xorRev()) {
				p = append(p, fmt.Sprint(c))
			}
			return strings.Join(p, ",")
		}(), "decimal char codes, reversed, xor 0x42"},
	}
	checkHits(t, cases)
}

// TestMatchCaesarNoiseUU: a Caesar shift of the letters other than 13, a
// byte of noise after every few of the secret, and uuencode (red team,
// session 18: each was in the "not found" list).
func TestMatchCaesarNoiseUU(t *testing.T) {
	v := []byte(val)
	caesar := func(b []byte, n int) []byte {
		return []byte(strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z':
				return 'a' + (r-'a'+rune(n))%26
			case r >= 'A' && r <= 'Z':
				return 'A' + (r-'A'+rune(n))%26
			}
			return r
		}, string(b)))
	}
	cases := []matchCase{
		{"caesar 3", "k=" + string(caesar(v, 3)), "rot3"},
		{"caesar 25, reversed", string(caesar([]byte(rev(val)), 25)), "reversed, rot25"},
		{"caesar 3 in a line of words", "print('" + string(caesar(v, 3)) + "') # ok\n", "rot3"},
		// Python: binascii.b2a_uu(val), and codecs.encode(b"token="+val+b"\n", "uu").
		{"binascii.b2a_uu", "H43=H6FLR;59F4#EX3'(T5&Y7.&)98S-*9%,V9TAA,45E-75+;S!2:0  \n", "uuencode"},
		{"the uu codec", "begin 666 <data>\nM=&]K96X]43=H6FLR;59F4#EX3'(T5&Y7.&)98S-*9%,V9TAA,45E-75+;S!2\n\":0H \n \nend\n", "uuencode"},
	}
	checkHits(t, cases)
}

// TestShortNoCaesar: a short value (an identity fact: a user name) is
// not looked for under a Caesar shift: text is full of them by chance
// ("fkulv" is "chris" shifted by 3).
func TestShortNoCaesar(t *testing.T) {
	if how, ok := Search([]byte("the fkulv of it"), "", []byte("chris")); ok {
		t.Errorf("chris found as %s in a shifted word", how)
	}
}
