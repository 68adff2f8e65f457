package honeytoken

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	s := New("/home/sandbox")
	if len(s.Tokens) < 20 || len(s.Env) != 2 || len(s.Files) < 18 {
		t.Fatalf("set: %+v", s)
	}
	files := NewMatcher(s.Tokens)
	for _, tok := range s.Tokens {
		if tok.Path == "" {
			continue
		}
		found := false
		for _, h := range files.Match([]byte(s.Files[tok.Path])) {
			found = found || h.ID == tok.ID
		}
		if !found { // raw, or as the file has it (docker's base64 auth)
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

// TestBait: the stealers' targets are planted where they look, each file
// holding its token.
func TestBait(t *testing.T) {
	s := New("/home/u")
	for _, p := range []string{".git-credentials", ".kube/config", ".docker/config.json",
		".config/gcloud/application_default_credentials.json", ".azure/msal_token_cache.json", ".azure/accessTokens.json",
		".config/google-chrome/Default/Login Data", ".local/share/TelegramDesktop/tdata/key_datas",
		".config/discord/Local Storage/leveldb/000005.ldb", ".electrum/wallets/default_wallet",
		".config/Exodus/exodus.wallet/seed.seco", ".bash_history"} {
		found := false
		for _, tok := range s.Tokens {
			found = found || tok.Path == "/home/u/"+p
		}
		if !found {
			t.Errorf("no token planted in ~/%s", p)
		}
	}
	ff := 0
	for p := range s.Files {
		if strings.HasPrefix(p, "/home/u/.mozilla/firefox/") && strings.HasSuffix(p, "/logins.json") {
			ff++
		}
	}
	if ff != 1 || !strings.Contains(s.Files["/home/u/.mozilla/firefox/profiles.ini"], "Path=") {
		t.Errorf("firefox profile: %d logins.json", ff)
	}
	m := NewMetadata()
	for _, tok := range m.Tokens() {
		if len(tok.Value) < 16 || !strings.HasPrefix(tok.Path, "http://") {
			t.Errorf("metadata token %+v", tok)
		}
	}
}

func TestFresh(t *testing.T) {
	a, b := New("/h"), New("/h")
	if a.Tokens[0].Value == b.Tokens[0].Value {
		t.Error("two sets share a value")
	}
}

// A random value never spells a word a sandbox-detector greps for: with
// the alphabet "moat", eight characters spell "moat" about once in 50
// draws unless such draws are refused.
func TestRandomSpellsNoTell(t *testing.T) {
	for i := 0; i < 5000; i++ {
		if v := random(8, "moat"); hasTellWord(v) || len(v) != 8 {
			t.Fatalf("random drew %q", v)
		}
	}
	if !hasTellWord("xxSandBoxx") {
		t.Fatal("hasTellWord misses a word in mixed case")
	}
}

// TestSetSpellsNoTell: no planted file spells a word a careful stealer
// greps for, the SSH key's random body included ("xxxx" turned up in
// about one key in 400 when only random's draws were checked).
func TestSetSpellsNoTell(t *testing.T) {
	for i := 0; i < 3000; i++ {
		for p, content := range New("/home/u").Files {
			if hasTellWord(content) {
				t.Fatalf("%s spells a tell word:\n%s", p, content)
			}
		}
	}
}

// TestNewFor: one key and home, one set; another key, another set.
func TestNewFor(t *testing.T) {
	a, b, c := NewFor("/home/dana", "k1"), NewFor("/home/dana", "k1"), NewFor("/home/dana", "k2")
	if !reflect.DeepEqual(a.Files, b.Files) || !reflect.DeepEqual(a.Tokens, b.Tokens) || !reflect.DeepEqual(a.Env, b.Env) {
		t.Errorf("one key drew two sets")
	}
	if reflect.DeepEqual(a.Files, c.Files) {
		t.Errorf("two keys drew one set")
	}
	if f1, f2 := New("/home/dana"), New("/home/dana"); reflect.DeepEqual(f1.Files, f2.Files) {
		t.Errorf("two fresh sets are one")
	}
}
