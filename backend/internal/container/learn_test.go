package container

import (
	"context"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestLearn: the learning runs stop once the image is learnt (the site
// directory, then the package: two runs), at two when the runs learn
// nothing (an image whose python3 fails), and a learning run makes none
// of its own.
func TestLearn(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	const engine, image = "test-engine", "sha256:0123456789abcdef"
	if !Unlearnt(engine, image) {
		t.Fatal("a new image is learnt")
	}
	// Runs that learn as an init would answer: the site directory, then
	// no package (its compile failed): learnt after two.
	var runs int
	Learn(context.Background(), engine, image, func(ctx context.Context, s *moat.Spec) (*moat.Result, error) {
		runs++
		if !Learning(ctx) || s.Image != image {
			t.Errorf("learning run %d: ctx learning %v, image %q", runs, Learning(ctx), s.Image)
		}
		// A learning run's own Learn does nothing.
		Learn(ctx, engine, image, func(context.Context, *moat.Spec) (*moat.Result, error) {
			t.Error("a learning run learnt")
			return nil, nil
		})
		switch runs {
		case 1:
			NewHookSite(engine, image).store([]byte(`[["/usr/local/lib/python3.11/dist-packages", 0]]`))
		case 2:
			NewHookStartup(engine, image, "/usr/local/lib/python3.11/dist-packages").store([]byte("not a compile"))
		}
		return &moat.Result{}, nil
	})
	if runs != 2 || Unlearnt(engine, image) {
		t.Fatalf("%d learning runs, unlearnt %v; want 2, learnt", runs, Unlearnt(engine, image))
	}
	Learn(context.Background(), engine, image, func(context.Context, *moat.Spec) (*moat.Result, error) {
		t.Error("a learnt image learnt again")
		return nil, nil
	})
	// Runs that learn nothing: two, no more.
	runs = 0
	Learn(context.Background(), engine, "sha256:other", func(context.Context, *moat.Spec) (*moat.Result, error) {
		runs++
		return &moat.Result{}, nil
	})
	if runs != learnRuns {
		t.Errorf("%d learning runs of an image they never learn, want %d", runs, learnRuns)
	}
}
