package moattest

import "testing"

func TestRequired(t *testing.T) {
	for _, c := range []struct {
		list, name string
		want       bool
	}{
		{"", "native", false},
		{"native", "native", true},
		{"docker,native", "native", true},
		{" docker , native ", "native", true},
		{"docker", "native", false},
		{"all", "gvisor", true},
		{"nativex", "native", false},
		{",", "", false},
	} {
		if got := required(c.list, c.name); got != c.want {
			t.Errorf("required(%q, %q) = %v, want %v", c.list, c.name, got, c.want)
		}
	}
}

func TestCaseNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range CaseNames() {
		if seen[n] {
			t.Errorf("case %q defined twice", n)
		}
		seen[n] = true
	}
}
