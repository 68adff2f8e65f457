package moattest

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/moat-sandbox/moat"
)

var initVolumeName = regexp.MustCompile(`toolcache-[0-9a-f]{20}`)

// InitVolume checks a container backend's init volume
// (backend/internal/container): the run's layers name it, the program sees it
// read-only where its persona says, holding the moat binary alone, and when the volume
// is gone from the engine while moat's cache still says it is filled
// (`docker volume prune`), the next run fills it again and succeeds.
// remove deletes a volume from the engine. It returns the volume's name.
func InitVolume(t *testing.T, newBackend func() moat.Backend, allowDegraded bool, remove func(name string) error) string {
	t.Helper()
	code := initListing
	run := func() (*moat.Result, string) {
		t.Helper()
		var stdout bytes.Buffer
		res, err := newBackend().Run(context.Background(), &moat.Spec{Args: []string{"-c", code}, Stdout: &stdout, AllowDegraded: allowDegraded})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != moat.StatusExited || res.ExitCode != 0 {
			t.Fatalf("status %s exit %d: %s %s", res.Status, res.ExitCode, res.Error, res.Stderr)
		}
		return res, stdout.String()
	}
	res, out := run()
	if out != "['entrypoint']\nro\n" {
		t.Errorf("the program sees the init volume as %q, want only moat's init, read-only", out)
	}
	var name string
	for _, l := range res.Layers {
		if l.Name == "init" {
			name = initVolumeName.FindString(l.Detail)
		}
	}
	if name == "" {
		t.Fatalf("no init volume in the layers: %+v", res.Layers)
	}
	if err := remove(name); err != nil {
		t.Fatalf("remove volume %s: %v", name, err)
	}
	if _, out := run(); out != "['entrypoint']\nro\n" {
		t.Errorf("after the volume was removed, the program sees the init volume as %q", out)
	}
	return name
}

// initListing prints what the mount holding moat's init (found by its
// binary, backend/internal/ctrinit.Bin) lists, and how it is mounted.
const initListing = `import os
m = [l.split() for l in open('/proc/self/mountinfo')]
d = [x for x in m if os.path.isfile(x[4] + '/entrypoint')]
print(sorted(os.listdir(d[0][4])) if d else 'no init mount')
print(d[0][5].split(',')[0] if d else 'not mounted')
`
