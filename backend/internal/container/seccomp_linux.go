package container

import (
	"encoding/json"
	"slices"
	"sync"

	"github.com/moby/profiles/seccomp"
)

var (
	profileOnce sync.Once
	profileJSON []byte
	profileErr  error
)

// SeccompProfile returns the profile, in the JSON form Docker and Podman
// accept: Docker's default profile, without Denied, and with ioctl allowed
// only when the low 32 bits of the request are neither TIOCSTI nor
// TIOCLINUX.
func SeccompProfile() ([]byte, error) {
	profileOnce.Do(func() {
		p := seccomp.DefaultProfile()
		out := profile{DefaultAction: p.DefaultAction, DefaultErrnoRet: p.DefaultErrnoRet, ArchMap: p.ArchMap}
		for _, sc := range p.Syscalls {
			names := slices.DeleteFunc(slices.Clone(sc.Names), func(n string) bool {
				return slices.Contains(Denied, n) || (n == "ioctl" && len(sc.Args) == 0)
			})
			if len(names) == 0 {
				continue
			}
			out.Syscalls = append(out.Syscalls, rule{Names: names, Action: sc.Action, ErrnoRet: sc.ErrnoRet,
				Args: sc.Args, Includes: sc.Includes, Excludes: sc.Excludes})
		}
		out.Syscalls = append(out.Syscalls, ioctlRules()...)
		profileJSON, profileErr = json.Marshal(out)
	})
	return profileJSON, profileErr
}
