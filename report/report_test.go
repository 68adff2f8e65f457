package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

func planted(id, value, where string) moat.Event {
	return moat.Event{Source: "moat", Kind: "honeytoken-planted", Name: id, Data: value, Path: where}
}

const secret = "Q7hZk2mVfP9xLr4TnW8bYc3JdS6gHa1Ee5uKo0Ri"

func TestAnalyze(t *testing.T) {
	tok := planted("aws-secret-access-key", secret, "/home/sandbox/.aws/credentials")
	cases := []struct {
		name string
		evs  []moat.Event
		cat  moat.Category
		sev  moat.Severity // "" means: no finding of cat at all
	}{
		{"honeytoken read", []moat.Event{tok, {Source: "audit", Kind: "open", Path: "/home/sandbox/.aws/credentials", PID: 3}}, moat.CategoryCredentialAccess, "high"},
		{"token sent by the network sink", []moat.Event{tok, {Source: "network", Kind: "http", Addr: "1.2.3.4:80", Data: "POST /x\r\n\r\nk=" + secret}}, moat.CategoryExfiltration, "critical"},
		{"token in a file written", []moat.Event{tok, {Source: "fs", Kind: "honeytoken-written", Path: "/work/x", Name: "aws-secret-access-key", Detail: "hex"}}, moat.CategoryExfiltration, "critical"},
		{"shell", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/bash", PID: 4}}, moat.CategoryExecution, "high"},
		{"python child is fine", []moat.Event{{Source: "kernel", Kind: "exec", Path: "/usr/bin/python3", PID: 4}}, moat.CategoryExecution, ""},
		{"loopback is fine", []moat.Event{{Source: "kernel", Kind: "connect", Addr: "127.0.0.1:8080", PID: 4}}, moat.CategoryNetwork, ""},
		{"pth without code", []moat.Event{{Source: "fs", Kind: "file-created", Path: "/work/v/x.pth", Data: "/some/dir"}}, moat.CategoryPersistence, ""},
		{"pth with code", []moat.Event{{Source: "fs", Kind: "file-created", Path: "/work/v/x.pth", Data: `/a\x0aimport os`}}, moat.CategoryPersistence, "high"},
		{"timeout", []moat.Event{{Source: "moat", Kind: "limit", Name: "timeout"}}, moat.CategoryResourceAbuse, "medium"},
		{"unmatched kernel exec in an audited process", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 7, TimeMS: 1},
			{Source: "kernel", Kind: "exec", Path: "/bin/true", PID: 7, TimeMS: 5}}, moat.CategoryEvasion, "high"},
		{"matched kernel exec", []moat.Event{
			{Source: "audit", Kind: "hello", PID: 7, TimeMS: 1},
			{Source: "audit", Kind: "exec", Path: "true", PID: 7, TimeMS: 4},
			{Source: "kernel", Kind: "exec", Path: "/bin/true", PID: 8, TimeMS: 5}}, moat.CategoryEvasion, ""},
		{"vsock socket", []moat.Event{{Source: "kernel", Kind: "socket", Name: "AF_VSOCK", PID: 3}}, moat.CategoryNetwork, "high"},
		{"packet socket, audit hook only", []moat.Event{{Source: "audit", Kind: "socket", Name: "AF_PACKET", PID: 3}}, moat.CategoryNetwork, "high"},
		{"netlink sock_diag", []moat.Event{{Source: "kernel", Kind: "socket", Name: "AF_NETLINK", PID: 3}}, moat.CategoryNetwork, "medium"},
		{"netlink and alg", []moat.Event{{Source: "kernel", Kind: "socket", Name: "AF_NETLINK"}, {Source: "kernel", Kind: "socket", Name: "AF_ALG"}}, moat.CategoryNetwork, "high"},
		{"kernel exec of an unaudited process (a shell's child)", []moat.Event{
			{Source: "kernel", Kind: "exec", Path: "/bin/ls", PID: 9, TimeMS: 5}}, moat.CategoryEvasion, ""},
	}
	for _, c := range cases {
		fs := Analyze(c.evs)
		var got moat.Severity
		for _, f := range fs {
			if f.Category == c.cat && f.Severity.Rank() > got.Rank() {
				got = f.Severity
			}
		}
		if got != c.sev {
			t.Errorf("%s: %s finding %q, want %q (%+v)", c.name, c.cat, got, c.sev, fs)
		}
	}
}

// Audit claims alone raise a finding but say so.
func TestAuditOnlyLabelled(t *testing.T) {
	fs := Analyze([]moat.Event{planted("t", secret, "$T"), {Source: "audit", Kind: "dns", Name: secret + ".evil.example"}})
	if len(fs) == 0 || fs[0].Severity != "critical" || !strings.Contains(fs[0].Summary, "audit hook") {
		t.Fatalf("%+v", fs)
	}
}

func TestPhases(t *testing.T) {
	fs := Analyze([]moat.Event{
		{Phase: "install", Source: "kernel", Kind: "exec", Path: "/bin/sh"},
		{Phase: "test", Source: "moat", Kind: "limit", Name: "timeout"},
	})
	if len(fs) != 2 || fs[0].Phase != "install" || fs[1].Phase != "test" {
		t.Fatalf("%+v", fs)
	}
}

func sample() *moat.Result {
	evs := []moat.Event{
		planted("aws-secret-access-key", secret, "/home/sandbox/.aws/credentials"),
		{TimeMS: 5, Source: "kernel", Kind: "connect", Addr: "203.0.113.9:4444", PID: 3},
		{TimeMS: 6, Source: "kernel", Kind: "exec", Path: "/bin/sh", PID: 3, Detail: `<script>alert(1)</script>`},
		{TimeMS: 7, Source: "audit", Kind: "open", Path: "/home/sandbox/.aws/credentials\"><img src=x onerror=alert(2)>", PID: 3},
	}
	return &moat.Result{Status: moat.StatusExited, Isolation: "native", Events: evs, Findings: Analyze(evs)}
}

func TestSARIF(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSARIF(&b, sample(), SARIFOptions{Artifact: "evil.py", Version: "test"}); err != nil {
		t.Fatal(err)
	}
	var log map[string]any
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log["version"] != "2.1.0" || !strings.Contains(log["$schema"].(string), "sarif") {
		t.Fatalf("header: %v %v", log["version"], log["$schema"])
	}
	runs := log["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	run := runs[0].(map[string]any)
	driver := run["tool"].(map[string]any)["driver"].(map[string]any)
	if driver["name"] != "moat" {
		t.Errorf("driver name %v", driver["name"])
	}
	ids := map[string]bool{}
	for _, r := range driver["rules"].([]any) {
		r := r.(map[string]any)
		id, _ := r["id"].(string)
		if id == "" || r["shortDescription"].(map[string]any)["text"] == "" {
			t.Errorf("rule without id or description: %v", r)
		}
		ids[id] = true
	}
	results := run["results"].([]any)
	if len(results) == 0 {
		t.Fatal("no results")
	}
	for _, r := range results {
		r := r.(map[string]any)
		if !ids[r["ruleId"].(string)] {
			t.Errorf("result names unknown rule %v", r["ruleId"])
		}
		switch r["level"] {
		case "error", "warning", "note":
		default:
			t.Errorf("level %v", r["level"])
		}
		if r["message"].(map[string]any)["text"] == "" {
			t.Error("empty message")
		}
		loc := r["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)["artifactLocation"].(map[string]any)
		if loc["uri"] != "evil.py" {
			t.Errorf("location %v", loc)
		}
	}
}

func TestHTMLEscapes(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, sample(), HTMLOptions{Title: "moat run <b>x</b>"}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>x</b>", "http://", "https://"} {
		if strings.Contains(s, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"CRITICAL", "reverse shell", "203.0.113.9:4444", "&lt;script&gt;"} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestSummary(t *testing.T) {
	res := sample()
	res.Findings = append(res.Findings, moat.Finding{Category: moat.CategoryExecution, Severity: "low", Summary: "x\x1b[2Jy"})
	var b bytes.Buffer
	WriteSummary(&b, res)
	if strings.Contains(b.String(), "\x1b") || !strings.Contains(b.String(), "CRITICAL") {
		t.Errorf("%q", b.String())
	}
}

func FuzzAnalyze(f *testing.F) {
	f.Add("kernel", "exec", "/bin/sh", "1.2.3.4:5", "name", "data")
	f.Fuzz(func(t *testing.T, src, kind, p, addr, name, data string) {
		evs := []moat.Event{planted("t", secret, "/home/sandbox/.netrc"), {Source: moat.Source(src), Kind: moat.Kind(kind), Path: p, Addr: addr, Name: name, Data: data}}
		for _, f := range Analyze(evs) {
			if f.Severity.Rank() == 0 || len(f.Evidence) > maxEvidence {
				t.Fatalf("bad finding %+v", f)
			}
		}
	})
}
