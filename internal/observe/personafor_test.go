package observe

import "testing"

// TestPersonaFor: one key, one persona (runner's and developer's alike);
// other keys draw others.
func TestPersonaFor(t *testing.T) {
	for _, draw := range []func(string) Persona{NewPersonaFor, NewRunnerPersonaFor} {
		a, b := draw("k1"), draw("k1")
		if a != b {
			t.Errorf("one key, two personas: %+v %+v", a, b)
		}
		differ := false
		for i := range 20 {
			if c := draw("k" + string(rune('a'+i))); c != a {
				differ = true
			}
		}
		if !differ {
			t.Errorf("20 other keys all drew %+v", a)
		}
	}
}
