package microvm

import "testing"

// TestWithEntry: the persona's user replaces an image's entry of its
// name or of uid/gid 1000, and nothing else.
func TestWithEntry(t *testing.T) {
	for _, c := range []struct{ in, name, line, want string }{
		{"root:x:0:0:root:/root:/bin/bash\n", "alex", "alex:x:1000:1000:Alex,,,:/home/alex:/bin/bash",
			"root:x:0:0:root:/root:/bin/bash\nalex:x:1000:1000:Alex,,,:/home/alex:/bin/bash\n"},
		// an image's own user of uid 1000, a stale sandbox line, no final newline
		{"root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000::/home/node:/bin/sh\nsandbox:x:1000:1000:moat sandbox:/home/sandbox:/usr/sbin/nologin", "runner", "runner:x:1000:1000:runner:/home/runner:/bin/bash",
			"root:x:0:0:root:/root:/bin/bash\nrunner:x:1000:1000:runner:/home/runner:/bin/bash\n"},
		// the same name with another id
		{"root:x:0:\nci:x:1001:\n\n", "ci", "ci:x:1000:", "root:x:0:\nci:x:1000:\n"},
		{"", "kim", "kim:x:1000:", "kim:x:1000:\n"},
	} {
		if got := withEntry(c.in, c.name, c.line); got != c.want {
			t.Errorf("withEntry(%q, %q) = %q, want %q", c.in, c.name, got, c.want)
		}
	}
}

// TestPersonaCheck: the agent writes only a persona of ordinary names.
func TestPersonaCheck(t *testing.T) {
	good := Persona{Host: "ip-10-1-2-3", User: "gitlab-runner", Gecos: "gitlab-runner", Home: "/home/gitlab-runner"}
	if err := good.check(); err != nil {
		t.Errorf("%+v: %v", good, err)
	}
	for _, p := range []Persona{
		{},
		{Host: "a/b", User: "alex", Home: "/home/alex"},
		{Host: "h", User: "../root", Home: "/home/../root"},
		{Host: "h", User: "alex", Gecos: "x:0:0", Home: "/home/alex"},
		{Host: "h", User: "alex", Gecos: "a\nroot::0:0::/:/bin/sh", Home: "/home/alex"},
		{Host: "h", User: "alex", Home: "/root"},
		{Host: "-h", User: "alex", Home: "/home/alex"},
	} {
		if err := p.check(); err == nil {
			t.Errorf("%+v: accepted", p)
		}
	}
}
