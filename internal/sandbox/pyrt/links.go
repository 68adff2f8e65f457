package pyrt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// maxLinkHops bounds symlink resolution, like the kernel's ELOOP limit.
const maxLinkHops = 40

// linkWalker resolves paths component by component, like
// filepath.EvalSymlinks, and remembers every symlink it meets.
type linkWalker struct {
	links map[string]string // absolute link path -> readlink target
}

func newLinkWalker() *linkWalker {
	return &linkWalker{links: map[string]string{}}
}

// walk returns the real path of p (made absolute against the working
// directory), recording each symlink met on the way, including those in
// link targets. Every recorded key has a symlink-free parent.
func (w *linkWalker) walk(p string) (string, error) {
	if !filepath.IsAbs(p) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		p = abs
	}
	resolved := "/"
	rest := splitPath(p)
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, c)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			if len(rest) > 0 && !fi.IsDir() {
				return "", fmt.Errorf("resolve %s: %s: %w", p, next, errNotDir)
			}
			resolved = next
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", fmt.Errorf("resolve %s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		w.links[next] = target
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		rest = append(splitPath(target), rest...)
	}
	return resolved, nil
}

var errNotDir = errors.New("not a directory")

func splitPath(p string) []string {
	return strings.Split(p, "/")
}

// outside returns the recorded links that do not lie under (or at) any of
// the bound paths.
func (w *linkWalker) outside(bound []string) map[string]string {
	set := make(map[string]bool, len(bound))
	for _, b := range bound {
		set[b] = true
	}
	out := map[string]string{}
	for link, target := range w.links {
		if set[link] || underAny(link, set) {
			continue
		}
		out[link] = target
	}
	return out
}
