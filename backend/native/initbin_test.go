//go:build linux

package native

import (
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSameBuild is the handshake with moat-init: a helper of another
// build, of another module or package, or left from an earlier build of
// a tree that cannot name its sources, is refused.
func TestSameBuild(t *testing.T) {
	own := func() *debug.BuildInfo {
		return &debug.BuildInfo{
			GoVersion: "go1.26.8",
			Path:      "github.com/moat-sandbox/moat/cmd/moat",
			Main:      debug.Module{Path: "github.com/moat-sandbox/moat", Version: "(devel)"},
			Deps: []*debug.Module{
				{Path: "golang.org/x/sys", Version: "v0.50.0", Sum: "h1:a="},
				{Path: "k8s.io/api", Version: "v0.37.2", Sum: "h1:b="},
			},
			Settings: []debug.BuildSetting{{Key: "-buildmode", Value: "exe"}, {Key: "CGO_ENABLED", Value: "0"}, {Key: "GOOS", Value: "linux"}},
		}
	}
	helper := func(edit func(*debug.BuildInfo)) *debug.BuildInfo {
		b := own()
		b.Path = "github.com/moat-sandbox/moat/cmd/moat-init"
		b.Deps = b.Deps[:1] // links fewer modules
		if edit != nil {
			edit(b)
		}
		return b
	}
	now := unix.NsecToTimespec(time.Now().UnixNano())
	old := unix.NsecToTimespec(time.Now().Add(-time.Hour).UnixNano())
	for _, tc := range []struct {
		name   string
		own, h *debug.BuildInfo
		hTime  unix.Timespec
		want   string // "" accepted, else part of the refusal
	}{
		{"same build", own(), helper(nil), now, ""},
		{"built a little before moat by the same go build", own(), helper(nil), unix.NsecToTimespec(time.Now().Add(-time.Minute).UnixNano()), ""},
		{"left from an earlier build", own(), helper(nil), old, "earlier build"},
		{"other Go", own(), helper(func(b *debug.BuildInfo) { b.GoVersion = "go1.26.7" }), now, "built by go1.26.7"},
		{"other package", own(), helper(func(b *debug.BuildInfo) { b.Path = "example.com/evil/cmd/moat-init" }), now, "not github.com/moat-sandbox/moat/cmd/moat-init"},
		{"other module version", own(), helper(func(b *debug.BuildInfo) { b.Main.Version = "v1.0.0" }), now, "version v1.0.0"},
		{"other dependency", own(), helper(func(b *debug.BuildInfo) {
			b.Deps[0] = &debug.Module{Path: "golang.org/x/sys", Version: "v0.49.0", Sum: "h1:c="}
		}), now, "module golang.org/x/sys v0.49.0"},
		{"dependency moat lacks", own(), helper(func(b *debug.BuildInfo) {
			b.Deps = append(b.Deps, &debug.Module{Path: "example.com/x", Version: "v1.0.0"})
		}), now, "module example.com/x"},
		{"other tags", own(), helper(func(b *debug.BuildInfo) {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: "-tags", Value: "skew"})
		}), now, "-tags"},
		{"other setting", own(), helper(func(b *debug.BuildInfo) { b.Settings[1].Value = "1" }), now, "CGO_ENABLED"},
		{"a release is exact, whatever its time", withMain(own(), "v1.2.0", "h1:m="), withMain(helper(nil), "v1.2.0", "h1:m="), old, ""},
		{"a clean tree is exact", withVCS(own(), "abc", "false"), withVCS(helper(nil), "abc", "false"), old, ""},
		{"a modified tree is not", withVCS(own(), "abc", "true"), withVCS(helper(nil), "abc", "true"), old, "earlier build"},
		{"other revision", withVCS(own(), "abc", "false"), withVCS(helper(nil), "abd", "false"), now, "vcs.revision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sameBuild(tc.own, tc.h, tc.hTime, now)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted, want a refusal naming %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("refused with %q, want it to name %q", err, tc.want)
			}
		})
	}
}

func withMain(b *debug.BuildInfo, version, sum string) *debug.BuildInfo {
	b.Main.Version, b.Main.Sum = version, sum
	return b
}

func withVCS(b *debug.BuildInfo, rev, modified string) *debug.BuildInfo {
	b.Settings = append(b.Settings, debug.BuildSetting{Key: "vcs", Value: "git"},
		debug.BuildSetting{Key: "vcs.revision", Value: rev}, debug.BuildSetting{Key: "vcs.modified", Value: modified})
	return b
}
