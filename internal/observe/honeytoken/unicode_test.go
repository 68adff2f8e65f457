package honeytoken

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
)

// zipped is a zip archive of one deflated entry holding data.
func zipped(data []byte) string {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, _ := w.Create("pad/data.bin")
	f.Write(data)
	w.Close()
	return buf.String()
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

// bold writes s's letters and digits as Mathematical Bold ones.
func bold(s string, upper, lower, digit rune) string {
	var sb strings.Builder
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z':
			c = upper + c - 'A'
		case c >= 'a' && c <= 'z':
			c = lower + c - 'a'
		case c >= '0' && c <= '9':
			c = digit + c - '0'
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

// TestMatchUnicodeForms: a secret hidden in Unicode (red team, session
// 22: each gave no finding before): as zero-width characters a bit each,
// as tag characters (ASCII smuggling), as mathematical letters, as
// UTF-16 or UTF-32 under base64 (PowerShell's -EncodedCommand), in a
// zip's deflated entry, in Morse code.
func TestMatchUnicodeForms(t *testing.T) {
	var zw, tags, morse strings.Builder
	for _, c := range []byte(val) {
		for i := 7; i >= 0; i-- {
			zw.WriteRune([]rune{'\u200b', '\u200c'}[c>>i&1])
		}
		tags.WriteRune(0xE0000 + rune(c))
		morse.WriteString(morseOf[c|0x20] + " ")
	}
	u32 := make([]byte, 0, 4*len(val))
	for _, c := range []byte(val) {
		u32 = append(u32, 0, 0, 0, c)
	}
	var caseName strings.Builder
	for i, c := range []byte(val) {
		for j := 7; j >= 0; j-- {
			l := "updatecheckservice"[(8*i+7-j)%18]
			if c>>j&1 == 1 {
				l -= 'a' - 'A'
			}
			caseName.WriteByte(l)
		}
		if i%2 == 1 {
			caseName.WriteString(".")
		}
	}
	ws := "GET /s HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"
	for i := 0; i < len(val); i += 3 {
		p := []byte(val[i:min(i+3, len(val))])
		key := []byte{byte(i), 0x5a, 0xc3, byte(7 * i)}
		ws += string([]byte{0x81, 0x80 | byte(len(p))}) + string(key)
		for j, c := range p {
			ws += string([]byte{c ^ key[j%4]})
		}
	}
	var ansi, zwj strings.Builder
	for _, c := range val {
		ansi.WriteString(string(c) + "\x1b[0m")
		zwj.WriteString(string(c) + "\u200d\u200b")
	}
	var b100 strings.Builder
	for _, c := range []byte(val) {
		b100.WriteRune(0x1F3F7 + rune(c))
	}
	b64v := base64.StdEncoding.EncodeToString([]byte(val))
	var quads []string
	for i := 0; i < len(b64v); i += 4 {
		quads = append(quads, `"`+b64v[i:i+4]+`"`)
	}
	hx := fmt.Sprintf("%x", val)
	var h4, h8 []string
	for i := 0; i < len(hx); i += 4 {
		h4 = append(h4, hx[i:min(i+4, len(hx))])
	}
	for i := 0; i < len(hx); i += 8 {
		h8 = append(h8, hx[i:min(i+8, len(hx))])
	}
	checkHits(t, []matchCase{
		{"base64 as a JSON list of 4-character strings", "[" + strings.Join(quads, ", ") + "]", "groups joined, base64"},
		{"hex in groups of 4", "id: " + strings.Join(h4, " ") + "\n", "groups joined, hex"},
		{"hex in groups of 8, a UUID's dashes", strings.Join(h8, "-"), "groups joined, hex"},
		{"base100 (emoji)", "status: " + b100.String() + "\n", "code points, add 0xf7"},
		{"ANSI resets between characters", "\x1b[1;31m" + ansi.String() + "\x1b]0;title\x07", "as shown"},
		{"zero-width joiners and spaces between characters", zwj.String(), "as shown"},
		{"websocket frames, a key each", ws, "websocket frames"},
		{"websocket frames, escaped", escape([]byte(ws[strings.Index(ws, "\r\n\r\n")+4:])), "escaped, websocket frames"},
		{"letter case bits", "lookups: " + caseName.String(), "letter case bits|letter case bits, xor 0xff"},
		{"zero-width bits", "Thanks for installing!" + zw.String() + "\n", "zero-width bits|zero-width bits, xor 0xff"},
		{"zero-width bits, other characters", "ok" + strings.NewReplacer("\u200b", "\u2060", "\u200c", "\ufeff").Replace(zw.String()), "zero-width bits|zero-width bits, xor 0xff"},
		{"tag characters", "Summary:" + tags.String() + " done", "tag characters"},
		{"mathematical bold", "x " + bold(val, 0x1D400, 0x1D41A, 0x1D7CE), "unicode letters"},
		{"mathematical monospace", bold(val, 0x1D670, 0x1D68A, 0x1D7F6) + "\n", "unicode letters"},
		{"circled", bold(val, 0x24B6, 0x24D0, '0'), "unicode letters"},
		{"base64 of utf-16le", "-EncodedCommand " + base64.StdEncoding.EncodeToString(utf16le("$k='"+val+"'")), "base64, utf-16"},
		{"base64 of utf-32be", base64.StdEncoding.EncodeToString(u32), "base64, utf-16"},
		{"zip, deflated", zipped([]byte(strings.Repeat("pad ", 50) + val)), "zip"},
		{"zip behind padding, base64", base64.StdEncoding.EncodeToString([]byte("junk" + zipped([]byte(val+val)))), "base64, zip"},
		{"morse", "-- " + morse.String(), "morse, case-changed"},
	})
}
