package observe

import (
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestIdentity: a plan's identity events are moat's own and hold the
// persona, the working directory, the kernel's release and the names of
// the environment the program gets (the caller's and the honeytokens').
func TestIdentity(t *testing.T) {
	p := NewPlan("/home/dana", []string{"CI=true", "PATH=/x"})
	p.Identity("dana-laptop", "dana", "/home/dana", "/work", []string{"CI=true", "PATH=/x"})
	got := map[string]string{}
	for _, e := range p.Planted {
		if e.Kind == moat.KindIdentity {
			if e.Source != moat.SourceMoat {
				t.Errorf("identity event from %s", e.Source)
			}
			got[e.Name] = e.Data
		}
	}
	for k, v := range map[string]string{"hostname": "dana-laptop", "user": "dana", "home": "/home/dana", "cwd": "/work"} {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	env := " " + got["env"] + " "
	for _, n := range []string{"CI", "PATH", "HOME", "USER", "GITHUB_TOKEN"} {
		if !strings.Contains(env, " "+n+" ") {
			t.Errorf("env %q lacks %s", got["env"], n)
		}
	}
	if got["os release"] == "" {
		t.Error("no os release")
	}
}
