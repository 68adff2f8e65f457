package report

import (
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestStage2: a marker file of the sink's inert second stage in the fs
// diff is a critical finding naming the URL and the way it ran, once per
// URL and way; a marker the sink never served, or one the hook alone
// saw, is not moat's evidence.
func TestStage2(t *testing.T) {
	t.Parallel()
	served := func(host, p, marker string) moat.Event {
		return moat.Event{Source: moat.SourceNetwork, Kind: moat.KindStage2, Name: host, Path: p, Detail: "served an inert second stage, marker /tmp/" + marker}
	}
	created := func(p string) moat.Event {
		return moat.Event{Source: moat.SourceFS, Kind: moat.KindFileCreated, Path: p}
	}
	for _, c := range []struct {
		name string
		evs  []moat.Event
		want []string // summaries' starts, in order
	}{
		{"piped into a shell twice", []moat.Event{served("39.107.154.72", "/env", ".abc-1"), served("39.107.154.72", "/env", ".abc-2"),
			created("/tmp/.abc-1-sh"), created("/tmp/.abc-2-sh")},
			[]string{"ran the second stage it downloaded from 39.107.154.72/env as a shell script (moat's sink served an inert stand-in, which left its marker file) (2 times)"}},
		{"exec()d", []moat.Event{served("pastebin.com", "/raw/x", ".abc-1"), created("/tmp/.abc-1-py")},
			[]string{"ran the second stage it downloaded from pastebin.com/raw/x as Python code"}},
		{"base64 decoded and exec()d", []moat.Event{
			{Source: moat.SourceNetwork, Kind: moat.KindStage2, Name: "cdn.example", Path: "/p.b64", Detail: "served an inert second stage (base64), marker /tmp/.abc-1"},
			created("/tmp/.abc-1-py")},
			[]string{"ran the second stage it downloaded from cdn.example/p.b64 as Python code (moat's sink served an inert stand-in as base64 (the program decoded it), which left its marker file)"}},
		{"a paste base64-decoded and exec()d", []moat.Event{
			{Source: moat.SourceNetwork, Kind: moat.KindStage2, Name: "pastebin.com", Path: "/raw/VvkKsmxr", Detail: "served an inert second stage (paste), marker /tmp/.abc-1"},
			created("/tmp/.abc-1-b64")},
			[]string{"ran the second stage it downloaded from pastebin.com/raw/VvkKsmxr as Python code after decoding it from base64 (moat's sink served an inert stand-in, which left its marker file)"}},
		{"an ELF written and run", []moat.Event{
			{Source: moat.SourceNetwork, Kind: moat.KindStage2, Name: "198.51.100.7", Path: "/agent.bin", Detail: "served an inert second stage (elf), marker /tmp/.abc-1"},
			created("/tmp/.abc-1-elf")},
			[]string{"ran the second stage it downloaded from 198.51.100.7/agent.bin as a native program (moat's sink served an inert stand-in as an x86-64 program, which left its marker file)"}},
		{"a loader's hello answered, decompressed and exec()d", []moat.Event{
			{Source: moat.SourceNetwork, Kind: moat.KindStage2, Addr: "1.15.77.2:18080", Detail: "served an inert second stage (hello), marker /tmp/.abc-1"},
			created("/tmp/.abc-1-zlib")},
			[]string{"ran the second stage it downloaded from 1.15.77.2:18080 as Python code after decompressing it (zlib) (moat's sink served an inert stand-in as the code a loader that spoke first waits for"}},
		{"downloaded, not run", []moat.Event{served("pastebin.com", "/raw/x", ".abc-1"), created("/tmp/saved.txt")}, nil},
		{"a marker moat never served", []moat.Event{created("/tmp/.abc-1-sh")}, nil},
		{"the hook alone", []moat.Event{served("pastebin.com", "/raw/x", ".abc-1"), {Source: moat.SourceAudit, Kind: moat.KindWrite, Path: "/tmp/.abc-1-py"}},
			[]string{"ran the second stage it downloaded from pastebin.com/raw/x as Python code (moat's sink served an inert stand-in, which left its marker file); the marker seen only by the Python audit hook"}},
	} {
		a := &analysis{evs: c.evs}
		a.stage2()
		if len(a.out) != len(c.want) {
			t.Errorf("%s: %d findings %+v, want %d", c.name, len(a.out), a.out, len(c.want))
			continue
		}
		for i, f := range a.out {
			if f.Category != moat.CategoryExecution || f.Severity != moat.SeverityCritical || !strings.HasPrefix(f.Summary, c.want[i]) {
				t.Errorf("%s: %s %s %q, want critical execution %q", c.name, f.Category, f.Severity, f.Summary, c.want[i])
			}
		}
	}
}
