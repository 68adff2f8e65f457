package report_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/backend/gvisor"
	"github.com/moat-sandbox/moat/backend/podman"
	"github.com/moat-sandbox/moat/moattest"
)

// TestExecNamed: a dropper's execs that name no absolute path (exec_at.py:
// ./x, ../bin/x from a child's working directory, a bare name, execveat
// of a directory descriptor, fexecve of a deleted file and of a memfd)
// are each a kernel exec named whole, with the sha256 of the file that
// ran, and an execution finding: on native and the containers (the
// seccomp listener: every exec); on gVisor (the Sentry's trace, with
// chdir followed) each but the descriptors', whose files are gone or in
// the Sentry's memory once the run is over: named, not hashed. Docker's
// runsc (registered by .ci/setup-runsc-trace.sh to trace chdir too) names
// each whole as gVisor direct does; its files are in the Sentry's own
// tmpfs, hashed from what the init sends at the end, where the file and
// the way to it are unchanged since the exec: /work, the directory of
// rel_bare, changes after its exec (fd_deleted is removed), so rel_bare
// gets none and says why (a high finding all the same). Each
// runs: /work is exec on every backend (Docker's tmpfs too, which the
// daemon makes noexec unless told exec).
func TestExecNamed(t *testing.T) {
	t.Parallel()
	type want struct {
		path string // the event's path; "" for a descriptor's
		tail string // a descriptor's: what the detail says it was
	}
	all := []want{{"/work/bin/rel_dot", ""}, {"/work/bin/rel_up", ""}, {"/work/rel_bare", ""}, {"/work/bin/at_dir", ""},
		{"", "fd_deleted (deleted)"}, {"", "/memfd:payload (deleted)"}}
	payload := buildStatic(t, "./testdata/payload")
	for _, bk := range []struct {
		name     string
		new      func() moat.Backend
		hashed   bool // a named file's exec is hashed
		fdHashed bool // a descriptor's exec is hashed
		relWhole bool // relative names are whole
		// changed are the named files not hashed, said changed after
		// their exec (a directory on the way changed since)
		changed []string
	}{
		{"native", func() moat.Backend { return moattest.RequireBackend(t, "native") }, true, true, true, nil},
		{"docker", func() moat.Backend { return docker.New(testImage(), "", "") }, true, true, true, nil},
		{"podman", func() moat.Backend { return podman.New(testImage(), "") }, true, true, true, nil},
		{"gvisor", func() moat.Backend { return &gvisor.Backend{} }, true, false, true, nil},
		// the files are in the Sentry's own tmpfs, read at the end
		{"gvisor-image", func() moat.Backend { return docker.New(testImage(), "runsc", "") }, true, false, true, []string{"/work/rel_bare"}},
	} {
		t.Run(bk.name, func(t *testing.T) {
			moattest.RequireBackend(t, strings.TrimSuffix(bk.name, "-image"))
			b := bk.new()
			if bk.name == "gvisor-image" {
				moattest.RequireBackend(t, "docker")
				if err := moat.Check(context.Background(), b); err != nil && !moattest.Required("gvisor") {
					t.Skip(err)
				}
			}
			res := run(t, b, filepath.Join("testdata", "corpus", "exec_at.py"), func(s *moat.Spec) {
				s.Limits.Timeout = 60 * time.Second
				s.Files["payload"] = payload
			})
			sum := ""
			for _, l := range strings.Split(res.Stdout, "\n") {
				if s, ok := strings.CutPrefix(l, "sha256 "); ok {
					sum = s
				}
			}
			if res.Status != moat.StatusExited || res.ExitCode != 0 || sum == "" || !strings.Contains(res.Stdout, "\nmemfd ") {
				dump(t, res)
				t.Fatalf("status %s exit %d: want the program's own end", res.Status, res.ExitCode)
			}
			// Each ran and exited 0 (exec_at.py prints the exit code, or
			// the exec's error): what the program writes in /work runs.
			for _, name := range []string{"rel_dot", "rel_up", "rel_bare", "at_dir", "fd_deleted", "memfd"} {
				if !slices.Contains(strings.Split(res.Stdout, "\n"), name+" 0") {
					dump(t, res)
					t.Errorf("%s did not run: want %q in the program's output", name, name+" 0")
				}
			}
			for _, w := range all {
				if w.path != "" && !bk.relWhole && w.path != "/work/bin/at_dir" {
					continue
				}
				i := slices.IndexFunc(res.Events, func(e moat.Event) bool {
					// Every one ran (an exec, never exec-failed): /work is
					// exec on every backend, Docker's tmpfs included.
					if e.Source != moat.SourceKernel || e.Kind != moat.KindExec {
						return false
					}
					if w.path != "" {
						return e.Path == w.path
					}
					return strings.HasPrefix(e.Path, "/proc/self/fd/") && strings.Contains(e.Detail, w.tail)
				})
				if i < 0 {
					dump(t, res)
					t.Errorf("no kernel exec of %s", w.path+w.tail)
					continue
				}
				e := res.Events[i]
				if slices.Contains(bk.changed, w.path) {
					if e.SHA256 != "" || !strings.Contains(e.Detail, "changed after this exec") {
						t.Errorf("kernel exec %s: sha256 %q, detail %q: want none, said changed after the exec", e.Path, e.SHA256, e.Detail)
					}
				} else if (w.path != "" && bk.hashed || w.path == "" && bk.fdHashed) && e.SHA256 != sum {
					t.Errorf("kernel exec %s %s: sha256 %q, want %s", e.Path, e.Detail, e.SHA256, sum)
				}
				if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
					return f.Category == moat.CategoryExecution && slices.ContainsFunc(f.Evidence, func(x moat.Event) bool { return x.Path == e.Path && x.Source == e.Source })
				}) {
					dump(t, res)
					t.Errorf("no execution finding on the exec of %s", e.Path)
				}
			}
		})
	}
}
