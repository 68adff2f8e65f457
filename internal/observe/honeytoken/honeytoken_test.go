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
	m := NewMatcher(s.Tokens)
	for _, c := range cases {
		hits := m.Match([]byte(c.data))
		if len(hits) != 1 || hits[0].ID != s.Tokens[1].ID || !strings.Contains(hits[0].Encoding, c.want) {
			t.Errorf("%s: got %+v, want %q", c.name, hits, c.want)
		}
	}
	if hits := m.Match([]byte("nothing to see " + v[:10])); hits != nil {
		t.Error("a prefix of the value matched")
	}
	// Every token of a fresh set is matchable (long and varied enough).
	for _, tok := range s.Tokens {
		if hits := m.Match([]byte("x " + tok.Value)); len(hits) != 1 || hits[0].ID != tok.ID {
			t.Errorf("%s: %+v", tok.ID, hits)
		}
	}
}

func TestFresh(t *testing.T) {
	a, b := New("/h"), New("/h")
	if a.Tokens[0].Value == b.Tokens[0].Value {
		t.Error("two sets share a value")
	}
}
