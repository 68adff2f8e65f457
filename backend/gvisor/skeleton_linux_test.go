package gvisor

import (
	"testing"

	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
)

// TestSkeletonKey: runs share a root only when everything in it is the
// same.
func TestSkeletonKey(t *testing.T) {
	rt := &pyrt.Runtime{Paths: []string{"/usr", "/etc/ld.so.cache"}, Links: map[string]string{"/lib": "usr/lib"}}
	bc := &audit.Bytecode{Tag: "cpython-311", Data: []byte("pyc")}
	base := skeletonKey(rt, true, bc)
	if again := skeletonKey(&pyrt.Runtime{Paths: []string{"/etc/ld.so.cache", "/usr"}, Links: map[string]string{"/lib": "usr/lib"}}, true, bc); again != base {
		t.Errorf("same content, bind order changed: key %s, want %s", again, base)
	}
	for name, k := range map[string]string{
		"hook off":   skeletonKey(rt, false, nil),
		"no pyc":     skeletonKey(rt, true, nil),
		"other pyc":  skeletonKey(rt, true, &audit.Bytecode{Tag: "cpython-311", Data: []byte("pyd")}),
		"other bind": skeletonKey(&pyrt.Runtime{Paths: []string{"/usr"}, Links: rt.Links}, true, bc),
		"other link": skeletonKey(&pyrt.Runtime{Paths: rt.Paths, Links: map[string]string{"/lib": "usr/lib64"}}, true, bc),
	} {
		if k == base {
			t.Errorf("%s: same key as the base", name)
		}
	}
}
