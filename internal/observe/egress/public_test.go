package egress

import "testing"

// TestPublicFor: one seed, one address and place (every phase of one moat
// test); no seed, a fresh draw each time.
func TestPublicFor(t *testing.T) {
	a, b := NewPublicFor("i-0123456789abcdef"), NewPublicFor("i-0123456789abcdef")
	if a.IP != b.IP || a.City != b.City || a.Hostname != b.Hostname {
		t.Fatalf("one seed, two machines: %v %s, %v %s", a.IP, a.City, b.IP, b.City)
	}
	if !a.prefix.Contains(a.IP) || a.IP == a.prefix.Addr() {
		t.Fatalf("%v outside %v or its first", a.IP, a.prefix)
	}
	if c := NewPublicFor("i-0fedcba987654321"); c.IP == a.IP {
		t.Fatalf("two seeds, one address %v", c.IP)
	}
	if x, y := NewPublic(), NewPublic(); x.IP == y.IP {
		t.Fatalf("two fresh draws, one address %v", x.IP)
	}
}
