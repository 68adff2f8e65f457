//go:build linux

package native

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestUserNSProblem feeds the sysctl knobs from a fake /proc/sys, so each
// way a distribution switches user namespaces off gets its own advice.
func TestUserNSProblem(t *testing.T) {
	for _, tc := range []struct {
		name  string
		euid  int
		knobs map[string]string
		want  string // "" means no problem
	}{
		{"all on", 1000, map[string]string{"user/max_user_namespaces": "15000", "kernel/unprivileged_userns_clone": "1"}, ""},
		{"debian knob off", 1000, map[string]string{"kernel/unprivileged_userns_clone": "0"}, "kernel.unprivileged_userns_clone=1"},
		{"max zero", 1000, map[string]string{"user/max_user_namespaces": "0"}, "user.max_user_namespaces=15000"},
		{"ubuntu apparmor", 1000, map[string]string{"kernel/apparmor_restrict_unprivileged_userns": "1"}, "apparmor_restrict_unprivileged_userns=0"},
		{"root ignores the unprivileged knobs", 0, map[string]string{"kernel/unprivileged_userns_clone": "0", "kernel/apparmor_restrict_unprivileged_userns": "1"}, ""},
		{"root with max zero", 0, map[string]string{"user/max_user_namespaces": "0"}, "user.max_user_namespaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for k, v := range tc.knobs {
				p := filepath.Join(root, "proc/sys", k)
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, []byte(v+"\n"), 0o644)
			}
			knobRoot = root
			defer func() { knobRoot = "" }()
			err := userNSProblemFor(tc.euid)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected problem: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, moat.ErrUnavailable) {
				t.Fatalf("err = %v, want one naming %q and wrapping ErrUnavailable", err, tc.want)
			}
		})
	}
}
