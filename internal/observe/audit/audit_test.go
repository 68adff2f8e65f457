package audit

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		ok   bool
		kind string
	}{
		{`{"k":"open","pid":12,"path":"/home/sandbox/.aws/credentials"}`, true, "open"},
		{`{"k":"connect","pid":3,"addr":"203.0.113.9:4444"}`, true, "connect"},
		{`{"k":"finding","severity":"critical"}`, false, ""},
		{`{"k":"honeytoken-planted","pid":1}`, false, ""},
		{`{"k":"exec","pid":"x"}`, false, ""},
		{`not json`, false, ""},
		{`{"k":"exec","pid":5,"path":"/bin/sh\u001b[2J","detail":"a\nb"}`, true, "exec"},
	}
	for _, c := range cases {
		ev, ok := Parse([]byte(c.in))
		if ok != c.ok || string(ev.Kind) != c.kind {
			t.Errorf("%s: got %v %+v", c.in, ok, ev)
		}
		if ok && ev.Source != "audit" {
			t.Errorf("%s: source %q", c.in, ev.Source)
		}
		if strings.ContainsAny(ev.Path+ev.Detail, "\x1b\n") {
			t.Errorf("%s: control characters kept: %q %q", c.in, ev.Path, ev.Detail)
		}
	}
	if _, ok := Parse([]byte(`{"k":"open","path":"` + strings.Repeat("a", MaxLine) + `"}`)); ok {
		t.Error("overlong line accepted")
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       "plain",
		"a\x1b[31mb":  `a\x1b[31mb`,
		"\xff":        `\xff`,
		"x\u202ey":    `x\u202ey`,
		"tab\tnl\n":   `tab\x09nl\x0a`,
		"\u0085 c1":   `\x85 c1`,
		"ünïcödé":     "ünïcödé",
		"\uFFFD real": "\uFFFD real",
	} {
		if got := Clean(in, 100); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Clean(strings.Repeat("x", 50), 10); len(got) > 10+len("…") {
		t.Errorf("not bounded: %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"k":"open","pid":12,"path":"/home/sandbox/.aws/credentials"}`))
	f.Add([]byte(`{"k":"http","name":"http://x/","data":"\u0000\u009b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, ok := Parse(b)
		if !ok {
			return
		}
		if ev.Source != "audit" || !kinds[string(ev.Kind)] {
			t.Fatalf("bad event %+v", ev)
		}
		for _, s := range []string{ev.Path, ev.Addr, ev.Name, ev.Detail, ev.Data} {
			if !utf8.ValidString(s) || len(s) > 1100 {
				t.Fatalf("unsafe field %q", s)
			}
			for _, r := range s {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
					t.Fatalf("control character in %q", s)
				}
			}
		}
	})
}

// TestHookNamesNothing: the hook's source, as installed, names nothing of
// moat (a program can read the module's file), and it still compiles.
func TestHookNamesNothing(t *testing.T) {
	for _, w := range []string{"moat", "sandbox", "honeytoken"} {
		if i := strings.Index(strings.ToLower(Hook()), w); i >= 0 {
			t.Errorf("the hook's source names %q: %q", w, Hook()[max(0, i-60):min(len(Hook()), i+60)])
		}
	}
	if !strings.Contains(Hook(), "def hook(event, args):") {
		t.Error("the hook's code is gone")
	}
}

// TestCleanPath: a path past the bound keeps its start and its end (the
// file's name) around a marker of what was cut, within the bound.
func TestCleanPath(t *testing.T) {
	long := "/home/alex/" + strings.Repeat("d/", 3000) + "evil\n.pth"
	for _, c := range []struct{ in, start, end string }{
		{"/work/x.pth", "/work/x.pth", "/work/x.pth"},
		{long, "/home/alex/d/", `/d/evil\x0a.pth`},
		{"/work/" + strings.Repeat("é", 2000) + "/x.pth", "/work/é", "é/x.pth"},
	} {
		got := CleanPath(c.in, MaxPath)
		if len(got) > MaxPath+32 || !strings.HasPrefix(got, c.start) || !strings.HasSuffix(got, c.end) || !utf8.ValidString(got) {
			t.Errorf("CleanPath(%.40q…) = %q: want %q…%q within %d bytes", c.in, got, c.start, c.end, MaxPath)
		}
		if (len(c.in) > MaxPath) != strings.Contains(got, CutMark) {
			t.Errorf("CleanPath(%.40q…) = %.80q: the cut marker where and only where it was cut", c.in, got)
		}
	}
}
