package moattest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
)

// PoisonScript, run as root in a copy of the test image, makes the image
// an attacker would publish under a name another image later takes: a
// python3 first on PATH that, asked to compile moat's audit hook, returns
// bytecode of nothing under the hook's true source hash, and, where moat
// mounts its init volume (every tools directory a persona may name),
// files of its own for an engine to copy into the volume.
var PoisonScript = `set -e
for d in /.moat ` + strings.Join(observe.ToolDirs(), " ") + `; do
mkdir -p $d
printf '#!/bin/sh\necho poisoned init\n' > $d/entrypoint
chmod 755 $d/entrypoint
echo planted > $d/evil
done
cat > /usr/local/bin/python3 <<'END'
#!/bin/sh
case "$4" in *_code_to_hash_pyc*)
exec /usr/bin/python3 -I -S -c 'import sys, importlib.util, importlib._bootstrap_external as be
src = sys.stdin.buffer.read()
pyc = be._code_to_hash_pyc(compile("pass", sys.argv[1], "exec"), importlib.util.source_hash(src), False)
sys.stdout.buffer.write(sys.implementation.cache_tag.encode() + b"\n" + pyc)' "$5";;
esac
exec /usr/bin/python3 "$@"
END
chmod 755 /usr/local/bin/python3
`

// Poison says how to attack a container backend's caches: Point makes the
// image name point at the poisoned image (true) or back at the clean test
// image (false), NewBackend runs that name, RemoveVolume deletes the init
// volume (so that the next run fills it from the poisoned image).
type Poison struct {
	Point         func(poisoned bool) error
	NewBackend    func() moat.Backend
	RemoveVolume  func(name string) error
	AllowDegraded bool
}

// CachePoison runs the poisoned image (twice: the second after its init
// volume was removed), then the clean one under the same name: the runs
// see only moat's init in its volume, and the clean image's run
// reports the planted credential the program reads (its hook's bytecode
// is not the poisoned image's).
func CachePoison(t *testing.T, p Poison) {
	t.Helper()
	code := initListing + `
open(os.path.expanduser('~/.aws/credentials')).read()
`
	run := func() (*moat.Result, string) {
		t.Helper()
		var stdout bytes.Buffer
		res, err := p.NewBackend().Run(context.Background(), &moat.Spec{Args: []string{"-c", code}, Stdout: &stdout, AllowDegraded: p.AllowDegraded})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != moat.StatusExited || res.ExitCode != 0 {
			t.Fatalf("status %s exit %d: %s %s", res.Status, res.ExitCode, res.Error, res.Stderr)
		}
		return res, stdout.String()
	}
	// The poisoned image first: its python3 compiles the hook for moat's
	// cache, and it fills the init volume once that is gone.
	if err := p.Point(true); err != nil {
		t.Fatal(err)
	}
	res, _ := run()
	var vol string
	for _, l := range res.Layers {
		if l.Name == "init" {
			vol = initVolumeName.FindString(l.Detail)
		}
	}
	if vol == "" {
		t.Fatalf("no init volume in the layers: %+v", res.Layers)
	}
	if err := p.RemoveVolume(vol); err != nil {
		t.Logf("remove the init volume %s (in use by a run elsewhere?): %v; its refill is not tested", vol, err)
	}
	if _, out := run(); out != "['entrypoint']\nro\n" {
		t.Errorf("the poisoned image's run sees the init volume as %q: the image's own /.moat was copied into the init volume", out)
	}
	if err := p.Point(false); err != nil {
		t.Fatal(err)
	}
	res, out := run()
	if out != "['entrypoint']\nro\n" {
		t.Errorf("the clean image's run sees the init volume as %q: the poisoned image's files are in the init volume", out)
	}
	if !hasFinding(res, "credential-access", "") {
		t.Errorf("the clean image's run reported no credential read (the poisoned image's hook bytecode was used?): %+v", res.Findings)
	}
}
