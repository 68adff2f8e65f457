package observe

import (
	"regexp"
	"strings"
	"testing"
)

func TestPersona(t *testing.T) {
	name := regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	host := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		p := NewPersona()
		all := strings.ToLower(p.Host + p.User + p.Gecos + p.Home + p.Init + p.Tools + p.Scratch)
		if strings.Contains(all, "moat") || strings.Contains(all, "sandbox") {
			t.Fatalf("persona says what it is: %+v", p)
		}
		if !name.MatchString(p.User) || !host.MatchString(p.Host) || p.Home != "/home/"+p.User || p.Init == "" || strings.ContainsAny(p.Gecos, ":\n") ||
			!strings.HasPrefix(p.Tools, "/") || !regexp.MustCompile(`^/tmp/tmp[a-z0-9_]{8}$`).MatchString(p.Scratch) {
			t.Fatalf("bad persona %+v", p)
		}
		seen[p.Host] = true
	}
	if len(seen) < 20 {
		t.Errorf("personas hardly vary: %d host names in 200", len(seen))
	}
}
