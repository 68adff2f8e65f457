package observe

import (
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
// home, the working directory, the kernel's release, and the names of the environment's
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
