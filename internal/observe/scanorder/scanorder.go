// Package scanorder is the order in which the file-system diff reads the
// files a run wrote: the files that run code later first, then by path.
// The diff's read budget is spent in this order, so wherever the files
// are read (inside a native sandbox, or by a container's init that sends
// them to the host to be read there) the same files are read before the
// budget ends, and throwaway files written first cannot crowd out a .pth.
//
// It is a leaf package (strings only): the containers' init imports it,
// and must stay light.
package scanorder

import "strings"

// Interesting names the files whose first bytes the diff keeps: those
// that run code at the next login, interpreter start or command.
func Interesting(p string) bool {
	base := p[strings.LastIndexByte(p, '/')+1:]
	switch {
	case strings.HasSuffix(base, ".pth"), base == "sitecustomize.py", base == "usercustomize.py",
		strings.HasPrefix(base, ".") && (strings.HasSuffix(base, "rc") || strings.HasSuffix(base, "profile") || base == ".bash_login"),
		strings.HasSuffix(base, ".desktop"), strings.HasSuffix(base, ".service"), strings.HasSuffix(base, ".timer"),
		strings.Contains(p, "cron"), strings.Contains(p, "/bin/"):
		return true
	}
	return false
}

// Less orders path a before b: the Interesting first, then by their
// bytes.
func Less(a, b string) bool {
	ia, ib := Interesting(a), Interesting(b)
	if ia != ib {
		return ia
	}
	return a < b
}
