package native

import (
	"errors"
	"fmt"
	"os"
	"strings"

	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/local"
	"github.com/moat-sandbox/moat/internal/sandbox/cgroup"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
)

const userNSHint = "unprivileged user namespaces must be enabled (see README: Enabling the native sandbox)"

// userNSProblem reads the knobs that switch unprivileged user namespaces
// off and says which one is set and how to turn it back on.
func userNSProblem() error {
	return userNSProblemFor(os.Geteuid())
}

func userNSProblemFor(euid int) error {
	if euid == 0 {
		if readKnob("/proc/sys/user/max_user_namespaces") == "0" {
			return fmt.Errorf("user namespaces are disabled (user.max_user_namespaces = 0); enable: sysctl -w user.max_user_namespaces=15000: %w", moat.ErrUnavailable)
		}
		return nil
	}
	switch {
	case readKnob("/proc/sys/user/max_user_namespaces") == "0":
		return fmt.Errorf("user namespaces are disabled (user.max_user_namespaces = 0); enable: sudo sysctl -w user.max_user_namespaces=15000: %w", moat.ErrUnavailable)
	case readKnob("/proc/sys/kernel/unprivileged_userns_clone") == "0":
		return fmt.Errorf("unprivileged user namespaces are off (kernel.unprivileged_userns_clone = 0); enable: sudo sysctl -w kernel.unprivileged_userns_clone=1: %w", moat.ErrUnavailable)
	case readKnob("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
		return fmt.Errorf("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1); enable: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or give moat an AppArmor profile with `userns,` (see README): %w", moat.ErrUnavailable)
	}
	return nil
}

// knobRoot is where /proc/sys is read from; tests point it elsewhere.
var knobRoot = ""

func readKnob(p string) string {
	b, err := os.ReadFile(knobRoot + p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func check() error {
	return userNSProblem()
}

func describe() []string {
	var notes []string
	if abi, err := llsys.LandlockGetABIVersion(); err == nil && abi > 0 {
		notes = append(notes, fmt.Sprintf("landlock ABI %d", abi))
	} else {
		notes = append(notes, "landlock: not in this kernel (other layers still apply)")
	}
	if info, err := cgroup.Probe(); err == nil {
		notes = append(notes, fmt.Sprintf("cgroup v%d (%s)", info.Version, strings.Join(info.Controllers, ",")))
	} else {
		notes = append(notes, "cgroups: "+err.Error()+" (runs need --allow-degraded)")
	}
	if rt, err := pyrt.Resolve("", os.Getenv("PATH"), local.CacheDir()); err == nil {
		notes = append(notes, "python "+rt.Version+" at "+rt.Executable)
	} else if errors.Is(err, pyrt.ErrNoPython) {
		notes = append(notes, "no python3 on PATH (use --python)")
	} else {
		notes = append(notes, "python: "+err.Error())
	}
	if initBinary(); initBin.f != nil {
		notes = append(notes, "init: "+initBin.path)
	} else {
		notes = append(notes, "init: moat itself ("+InitBinary+": "+initBin.why+")")
	}
	return notes
}
