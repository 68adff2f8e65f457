package ctrinit

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// check returns the layers of e that are not in effect in this process
// (which the program inherits), in a fixed order; nil when all are. What
// cannot be read counts as not in effect.
func (e *Expect) check() []Unmet {
	var out []Unmet
	for _, dir := range slices.Sorted(maps.Keys(e.Sized)) {
		if why := sized(dir, e.Sized[dir]); why != "" {
			out = append(out, Unmet{"disk", why})
		}
	}
	if e.NonRoot || e.NoCapabilities {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			b = nil
		}
		user, caps := statusUnmet(b)
		if e.NonRoot && user != "" {
			out = append(out, Unmet{"user", user})
		}
		if e.NoCapabilities && caps != "" {
			out = append(out, Unmet{"capabilities", caps})
		}
	}
	if e.ReadOnlyRoot {
		b, _ := os.ReadFile("/proc/self/mountinfo")
		var st unix.Statfs_t
		ro := unix.Statfs("/", &st) == nil && st.Flags&unix.ST_RDONLY != 0
		if why := rootUnmet(b, ro); why != "" {
			out = append(out, Unmet{"read-only-rootfs", why})
		}
	}
	if e.LoopbackOnly {
		b, err := os.ReadFile("/proc/self/net/dev")
		if err != nil {
			b = nil
		}
		if why := netUnmet(b); why != "" {
			out = append(out, Unmet{"network", why})
		}
	}
	return out
}

// sized says why the file system at dir is not one of at most limit
// bytes; "" if it is.
func sized(dir string, limit int64) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Sprintf("%s: cannot read its size (statfs: %v)", dir, err)
	}
	return sizeUnmet(dir, st.Blocks, st.Frsize, st.Bsize, limit)
}

// sizeUnmet judges a statfs of dir: blocks of frsize bytes (bsize where
// the file system leaves frsize 0).
func sizeUnmet(dir string, blocks uint64, frsize, bsize, limit int64) string {
	unit := frsize
	if unit <= 0 {
		unit = bsize
	}
	if unit <= 0 {
		return fmt.Sprintf("%s: its file system gives no block size", dir)
	}
	size := uint64(math.MaxUint64)
	if blocks <= math.MaxUint64/uint64(unit) {
		size = blocks * uint64(unit)
	}
	if limit >= 0 && size <= uint64(limit) {
		return ""
	}
	return fmt.Sprintf("%s is a file system of %d bytes, not the volume of at most %d asked for: the runtime put one of its own there (gVisor's containerd shim as released does so at /dev/shm), and only the memory limit bounds what is written to it", dir, size, limit)
}

// statusUnmet reads /proc/self/status: why the process may be root (a uid
// or gid 0) and why it may have a capability; "" for each that holds.
func statusUnmet(status []byte) (user, caps string) {
	ids := map[string][]string{}
	capv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch k {
		case "Uid", "Gid":
			ids[k] = strings.Fields(v)
		case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb":
			capv[k] = strings.TrimSpace(v)
		}
	}
	for _, k := range []string{"Uid", "Gid"} {
		f := ids[k]
		if len(f) == 0 {
			user = "no " + k + " line in /proc/self/status: cannot tell the user is not root"
			break
		}
		for _, id := range f {
			if n, err := strconv.ParseUint(id, 10, 32); err != nil || n == 0 {
				user = fmt.Sprintf("the init runs as %s %s (/proc/self/status): root", k, strings.Join(f, " "))
				break
			}
		}
		if user != "" {
			break
		}
	}
	var held []string
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		v, ok := capv[k]
		if !ok {
			if k == "CapAmb" {
				continue // kernels before 4.3 and gVisor have none
			}
			return user, "no " + k + " line in /proc/self/status: cannot tell the capabilities are dropped"
		}
		if n, err := strconv.ParseUint(v, 16, 64); err != nil || n != 0 {
			held = append(held, k+" "+strconv.Quote(v))
		}
	}
	if len(held) > 0 {
		caps = "capabilities held (/proc/self/status): " + strings.Join(held, ", ")
	}
	return user, caps
}

// rootUnmet reads /proc/self/mountinfo: why the mount at / may be
// writable; "" if the topmost mount there is read-only, or statfsRO
// (statfs's ST_RDONLY on /) says so.
func rootUnmet(mountinfo []byte, statfsRO bool) string {
	if statfsRO {
		return ""
	}
	opts := ""
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 5 && f[4] == "/" {
			opts = f[5] // the last, topmost, wins
		}
	}
	if opts == "" {
		return "the root file system's mount options cannot be read (/proc/self/mountinfo): cannot tell it is read-only"
	}
	if slices.Contains(strings.Split(opts, ","), "ro") {
		return ""
	}
	return "the root file system is mounted " + strconv.Quote(opts) + " (/proc/self/mountinfo), not read-only"
}

// netUnmet reads /proc/self/net/dev: why the container may reach a
// network (an interface but lo); "" if it has none.
func netUnmet(dev []byte) string {
	lines := strings.Split(string(dev), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "|") {
		return "the network interfaces cannot be read (/proc/self/net/dev): cannot tell there is none but loopback"
	}
	var other []string
	for _, l := range lines[2:] {
		name, _, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		if name = strings.TrimSpace(name); name != "lo" {
			other = append(other, strconv.Quote(name))
		}
	}
	if len(other) == 0 {
		return ""
	}
	if len(other) > 8 {
		other = append(other[:8], fmt.Sprintf("and %d more", len(other)-8))
	}
	return "the container has network interfaces besides loopback: " + strings.Join(other, ", ") + "; only a network policy, where one is enforced, stands between the program and the network"
}
