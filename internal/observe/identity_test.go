package observe

import (
	"os"
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
	// the host kernel's boot id and the CPU's model, what a program reads
	// on the backends that share the host's /proc
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil && got["boot id"] != strings.TrimSpace(string(b)) {
		t.Errorf("boot id %q, want %q", got["boot id"], strings.TrimSpace(string(b)))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil && strings.Contains(string(b), "model name") &&
		(got["cpu model"] == "" || !strings.Contains(string(b), got["cpu model"])) {
		t.Errorf("cpu model %q, not /proc/cpuinfo's", got["cpu model"])
	}
}
