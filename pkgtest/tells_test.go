package pkgtest_test

import (
	"cmp"
	"os"
	"path/filepath"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/moattest"
	"github.com/moat-sandbox/moat/pkgtest"
)

// TestTells: a package whose test looks for the cheap tells of moat
// (report/testdata/corpus/tells.py, run from the test phase) finds none:
// no MOAT_ variable, no .moat directory or junit path on a command line,
// no moat-named shim or probe directory, on every backend.
func TestTells(t *testing.T) {
	t.Parallel()
	image := cmp.Or(os.Getenv("MOAT_TEST_IMAGE"), "moat/python:bookworm")
	for _, name := range []string{"native", "docker", "podman"} {
		t.Run(name, func(t *testing.T) {
			cfg := pkgtest.Config{}
			if name != "native" {
				cfg = pkgtest.Config{Backend: moattest.RequireBackend(t, name), Isolation: name, Image: image,
					AllowDegraded: os.Geteuid() != 0, Network: map[string]moat.Network{"install": moat.NetworkNone, "import": moat.NetworkNone, "test": moat.NetworkNone}}
			}
			dir := filepath.Join(t.TempDir(), "tells")
			if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "projects", "tells"))); err != nil {
				t.Fatal(err)
			}
			src, err := os.ReadFile(filepath.Join("..", "report", "testdata", "corpus", "tells.py"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "tests", "tells.py"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			// The backend's documented tells (report's nativeTells,
			// containerTells: docs/report.md).
			known := "the home's files were made\n"
			switch name {
			case "native":
				known += "the clocks are offset\nthe CPU times\n"
			case "podman": // report's podmanTells
				known += "/etc/passwd was modified\n/etc/group was modified\n"
			}
			if err := os.WriteFile(filepath.Join(dir, "tests", "known.txt"), []byte(known), 0o644); err != nil {
				t.Fatal(err)
			}
			if name == "native" {
				// The host's own site directories, which native shows
				// through its binds of the runtime.
				if err := os.WriteFile(filepath.Join(dir, "tests", "host.txt"), moattest.HostSiteNames(t), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tg, err := pkgtest.DetectTarget(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Target = tg
			rep, err := run(t, cfg)
			if err != nil || rep.Tests == nil || rep.Tests.Passed != 1 {
				dump(t, rep)
				t.Fatalf("the test found tells (status %s, err %v)", rep.Status, err)
			}
		})
	}
}
