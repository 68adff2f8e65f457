package capture

import (
	"bytes"
	"strings"
	"testing"
)

func TestStream(t *testing.T) {
	var live bytes.Buffer
	breaches := 0
	s := New(&live, 10, func() { breaches++ })
	s.Drain(strings.NewReader("hello"))
	if got, trunc := s.Result(); got != "hello" || trunc || breaches != 0 {
		t.Fatalf("under the limit: %q %v %d", got, trunc, breaches)
	}
	s.Add([]byte(" world, and more"))
	s.Add([]byte("and more still"))
	got, trunc := s.Result()
	if got != "hello worl" || !trunc || breaches != 1 || live.String() != "hello worl" {
		t.Fatalf("over the limit: %q %v breaches=%d live=%q", got, trunc, breaches, live.String())
	}
	z := New(nil, 0, nil)
	z.Add([]byte("x"))
	if got, trunc := z.Result(); got != "" || !trunc {
		t.Fatalf("zero limit: %q %v", got, trunc)
	}
}

// TestHead: the first N bytes are kept, every write says it took all of
// its bytes (a child writing never blocks or fails), the rest is dropped.
func TestHead(t *testing.T) {
	var b bytes.Buffer
	h := &Head{W: &b, N: 5}
	for _, s := range []string{"abc", "defg", "hij"} {
		if n, err := h.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if b.String() != "abcde" {
		t.Fatalf("kept %q, want %q", b.String(), "abcde")
	}
}
