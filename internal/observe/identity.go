package observe

import (
	"bufio"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
)

// maxIdentityEnv bounds the variable names an "identity" event lists.
const maxIdentityEnv = 64

// Identity adds to the plan's events the facts of the machine the run
// is shown, which reconnaissance sends home (report's identity rule
// looks for them in what left): the persona's host name, user name and
// home, the working directory, the kernel's release and boot id, the
// CPU's model, and the names of the environment's
// variables (the ones the caller gave, the plan's honeytokens' and
// those every backend sets), one "identity" event each. The values are
// moat's own: the program cannot change what the analysis looks for.
func (p *Plan) Identity(host, user, home, cwd string, specEnv []string) {
	add := func(name, value string) {
		if value != "" {
			p.Planted = append(p.Planted, moat.Event{Source: moat.SourceMoat, Kind: moat.KindIdentity, Name: name, Data: value,
				Detail: "a fact of the machine moat showed the run"})
		}
	}
	add("hostname", host)
	add("user", user)
	add("home", home)
	if cwd != home {
		add("cwd", cwd)
	}
	// The kernel's release, as uname(2) tells it here: the program's on
	// the backends that share the host's kernel (native, docker, podman);
	// gVisor's Sentry and a micro-VM's guest tell their own, which this
	// does not match.
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		add("os release", unix.ByteSliceToString(u.Release[:]))
	}
	// The kernel's boot id and the CPU's model, as the host's /proc tells
	// them: what the program reads on the backends whose /proc is the
	// host kernel's (native, docker, podman; gVisor's Sentry and a
	// micro-VM's guest tell their own boot id, which this does not match).
	// A boot id is this machine's alone; a CPU model is shared by many
	// (report counts it only beside another fact).
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		add("boot id", strings.TrimSpace(string(b)))
	}
	add("cpu model", cpuModel())
	names := map[string]bool{"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "LANG": true, "TMPDIR": true}
	for _, kv := range append(append([]string(nil), specEnv...), p.Env...) {
		if k, _, ok := strings.Cut(kv, "="); ok && k != "" && len(names) < maxIdentityEnv {
			names[k] = true
		}
	}
	list := make([]string, 0, len(names))
	for k := range names {
		list = append(list, k)
	}
	sort.Strings(list)
	add("env", strings.Join(list, " "))
}

// cpuModel is the first "model name" of /proc/cpuinfo, "" if none.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
