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

// TestPersonaUptime: a persona's machine is up for hours to weeks, one
// age per key, and fresh draws differ.
func TestPersonaUptime(t *testing.T) {
	ages := map[int64]bool{}
	for i := range 20 {
		for _, p := range []Persona{NewPersona(), NewRunnerPersona(), NewPersonaFor("k" + string(rune('a'+i)))} {
			if p.Uptime < minUptime || p.Uptime > maxUptime {
				t.Errorf("uptime %v, want %v to %v", p.Uptime, minUptime, maxUptime)
			}
			ages[int64(p.Uptime)] = true
		}
	}
	if len(ages) < 30 {
		t.Errorf("60 personas, %d ages", len(ages))
	}
	if a, b := NewPersonaFor("k1").Uptime, NewPersonaFor("k1").Uptime; a != b {
		t.Errorf("one key, two ages: %v %v", a, b)
	}
}
