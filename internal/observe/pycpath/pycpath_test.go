package pycpath

import "testing"

func TestSource(t *testing.T) {
	for _, c := range []struct {
		p, src string
		opt    int
		ok     bool
	}{
		{"/work/__pycache__/mod.cpython-311.pyc", "/work/mod.py", 0, true},
		{"/work/pkg/__pycache__/__init__.cpython-311.opt-1.pyc", "/work/pkg/__init__.py", 1, true},
		{"/work/__pycache__/mod.cpython-311.opt-2.pyc", "/work/mod.py", 2, true},
		{"/work/__pycache__/mod.cpython-311.opt-3.pyc", "", 0, false},
		{"/work/__pycache__/mod.cpython-311-pytest-7.2.1.pyc", "", 0, false}, // pytest's own loader's
		{"/work/__pycache__/.cpython-311.pyc", "", 0, false},
		{"/work/__pycache__/mod.pyc", "", 0, false},
		{"/work/mod.cpython-311.pyc", "", 0, false}, // not in a cache
		{"/work/__pycache__/mod.cpython-311.py", "", 0, false},
	} {
		src, opt, ok := Source(c.p)
		if src != c.src || opt != c.opt || ok != c.ok {
			t.Errorf("Source(%q) = %q %d %v, want %q %d %v", c.p, src, opt, ok, c.src, c.opt, c.ok)
		}
	}
}
