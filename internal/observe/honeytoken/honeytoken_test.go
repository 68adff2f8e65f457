package honeytoken

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	s := New("/home/sandbox")
	if len(s.Tokens) < 6 || len(s.Env) != 2 || len(s.Files) != 4 {
		t.Fatalf("set: %+v", s)
	}
	for _, tok := range s.Tokens {
		if tok.Path != "" && !strings.Contains(s.Files[tok.Path], tok.Value) {
			t.Errorf("%s: value not in %s", tok.ID, tok.Path)
		}
	}
	v := s.Tokens[1].Value
	cases := []struct {
		name, data, want string
	}{
		{"raw", "x=" + v + "&y", "raw"},
		{"base64 in a larger blob", base64.StdEncoding.EncodeToString([]byte("secret: " + v + "\n")), "base64"},
		{"base64 offset 1", base64.StdEncoding.EncodeToString([]byte("a" + v)), "base64"},
		{"base64 offset 2", base64.StdEncoding.EncodeToString([]byte("ab" + v)), "base64"},
		{"urlsafe", base64.URLEncoding.EncodeToString([]byte("\xff\xfe" + v + "\xff")), "base64"},
		{"hex upper", strings.ToUpper(hex.EncodeToString([]byte("k=" + v))), "hex"},
		{"base32", base32.StdEncoding.EncodeToString([]byte("abc" + v)), "base32"},
	}
	for _, c := range cases {
		enc, ok := Find(c.data, v)
		if !ok || !strings.Contains(enc, c.want) {
			t.Errorf("%s: got %q %v, want %q", c.name, enc, ok, c.want)
		}
	}
	if _, ok := Find("nothing to see "+v[:10], v); ok {
		t.Error("a prefix of the value matched")
	}
	h := hex.EncodeToString([]byte(v))
	name := h[:30] + "." + h[30:60] + "." + h[60:] + ".x.attacker.example"
	if enc, ok := FindInName(name, v); !ok || !strings.Contains(enc, "DNS labels") {
		t.Errorf("dns split: %q %v", enc, ok)
	}
	if _, ok := FindInName("www.example.com", v); ok {
		t.Error("false positive on a plain name")
	}
}

func TestFresh(t *testing.T) {
	a, b := New("/h"), New("/h")
	if a.Tokens[0].Value == b.Tokens[0].Value {
		t.Error("two sets share a value")
	}
}

func FuzzFind(f *testing.F) {
	f.Add("abc", "AKIAABCDEFGHIJKLMNOP")
	f.Fuzz(func(t *testing.T, data, value string) {
		if enc, ok := Find(data+value, value); value != "" && !ok {
			t.Fatalf("raw value not found (%q)", enc)
		}
		_, _ = FindInName(data, value)
	})
}
