package container

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// TestCheckStartup: the E frame comes out of the container, so it is
// kept only as the compile of the image's package with moat's loader
// for the run's site directory: a frame whose source lacks the loader,
// whose .pyc is not of its source, or which names the package at a path
// the engines could not take, is not believed.
func TestCheckStartup(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	const site = "/usr/local/lib/python3.11/dist-packages"
	st, err := audit.CompileStartup(py, site, "")
	if err != nil {
		t.Skip(err)
	}
	frame := func(path string, src, pyc []byte) []byte {
		return append(fmt.Appendf(nil, "%s\n%s\n1\n%d\n", st.Tag, path, len(src)), append(bytes.Clone(src), pyc...)...)
	}
	if _, err := checkStartup(frame(st.Path, st.Source, st.Pyc), site); err != nil {
		t.Fatalf("the compile itself: %v", err)
	}
	other := bytes.Replace(st.Source, []byte("def search_function"), []byte("def search_functioN"), 1)
	for name, b := range map[string][]byte{
		"another site":      frame(st.Path, st.Source, st.Pyc),
		"source changed":    frame(st.Path, other, st.Pyc),
		"no loader":         frame(st.Path, st.Source[:len(st.Source)-len(audit.StartupLoader(site))], st.Pyc),
		"path with a comma": frame("/usr/lib/py,thon3/encodings/__init__.py", st.Source, st.Pyc),
		"not the encodings": frame(strings.Replace(st.Path, "encodings", "json", 1), st.Source, st.Pyc),
	} {
		s := site
		if name == "another site" {
			s = "/usr/lib/python3/dist-packages"
		}
		if _, err := checkStartup(b, s); err == nil {
			t.Errorf("%s: believed", name)
		}
	}
}
