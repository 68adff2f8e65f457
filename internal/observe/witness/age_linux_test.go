package witness

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestArmAgesTheHome: after Arm, nothing of the home that holds the
// planted files was modified in the last minutes (.bashrc, the
// directories), every directory is as old as its newest entry, and a
// symbolic link is aged itself, its target outside untouched.
func TestArmAgesTheHome(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home", "alex")
	outside := filepath.Join(t.TempDir(), "outside")
	for _, p := range []string{".aws/credentials", ".config/gcloud/adc.json", ".bashrc", ".config/empty/", outside} {
		if !filepath.IsAbs(p) {
			p = filepath.Join(home, p)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) != "" && p[len(p)-1] != '/' {
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		} else if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(home, ".config", "link")); err != nil {
		t.Fatal(err)
	}
	w, err := Arm([]File{{Path: "/a", Host: filepath.Join(home, ".aws/credentials")}, {Path: "/b", Host: filepath.Join(home, ".config/gcloud/adc.json")}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mtime := func(p string) time.Time {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime()
	}
	for _, p := range []string{home, home + "/.aws", home + "/.config", home + "/.config/gcloud", home + "/.config/empty", home + "/.bashrc"} {
		if time.Since(mtime(p)) < 24*time.Hour {
			t.Errorf("%s was modified %v ago", p, time.Since(mtime(p)))
		}
	}
	if got, want := mtime(home+"/.aws"), mtime(home+"/.aws/credentials"); !got.Equal(want) {
		t.Errorf(".aws: %v, its newest entry %v", got, want)
	}
	if !mtime(home + "/.bashrc").Before(mtime(home + "/.aws/credentials")) {
		t.Errorf(".bashrc (%v) is not older than the credentials (%v)", mtime(home+"/.bashrc"), mtime(home+"/.aws/credentials"))
	}
	if time.Since(mtime(outside)) > time.Minute {
		t.Errorf("the link's target outside the home was aged: %v", mtime(outside))
	}
	if time.Since(mtime(filepath.Join(home, ".config", "link"))) < 24*time.Hour {
		t.Errorf("the link itself was not aged")
	}
	// A file of the home that is not moat's (older than a few minutes)
	// keeps its times; Check reports nothing of the walk.
	if evs := w.Check(); len(evs) != 0 {
		t.Errorf("the walk moved the witnessed files: %v", evs)
	}
}
