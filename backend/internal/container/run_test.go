package container

import (
	"errors"
	"testing"
)

func TestNote(t *testing.T) {
	for _, c := range []struct {
		label string
		err   error
		want  string
	}{
		{"send", nil, ""},
		{"send", errors.New("broken pipe"), " (send: broken pipe)"},
		{"", errors.New("init protocol violated"), " (init protocol violated)"},
	} {
		if got := Note(c.label, c.err); got != c.want {
			t.Errorf("Note(%q, %v) = %q, want %q", c.label, c.err, got, c.want)
		}
	}
}
