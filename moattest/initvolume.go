package moattest

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/moat-sandbox/moat"
)

var initVolumeName = regexp.MustCompile(`moat-init-[0-9a-f]{20}`)

// InitVolume checks a container backend's init volume
// (backend/internal/container): the run's layers name it, the program sees it
// read-only at /.moat holding the moat binary alone, and when the volume
// is gone from the engine while moat's cache still says it is filled
// (`docker volume prune`), the next run fills it again and succeeds.
// remove deletes a volume from the engine. It returns the volume's name.
func InitVolume(t *testing.T, newBackend func() moat.Backend, allowDegraded bool, remove func(name string) error) string {
	t.Helper()
	code := `import os
print(sorted(os.listdir('/.moat')))
opts = [l.split()[5] for l in open('/proc/self/mountinfo') if l.split()[4] == '/.moat']
print(opts[0].split(',')[0] if opts else 'not mounted')
`
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
	if out != "['moat']\nro\n" {
		t.Errorf("the program sees /.moat as %q, want only moat, read-only", out)
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
	if _, out := run(); out != "['moat']\nro\n" {
		t.Errorf("after the volume was removed, the program sees /.moat as %q", out)
	}
	return name
}
