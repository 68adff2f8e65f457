package native

import (
	"encoding/binary"
	"net/netip"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// Reading a notified process's syscall arguments from /proc/PID/mem
// (notify_linux.go; strings and argv: seccomp.ReadString, ReadArgv). What
// is read is evidence, never a decision.

// readSockaddr decodes the address a connect names: "ip:port" for inet,
// a path for unix sockets.
func readSockaddr(mem *os.File, addr, length uint64) (hostport, path string) {
	if addr == 0 || length < 2 {
		return "", ""
	}
	buf := make([]byte, min(length, 128))
	n, _ := mem.ReadAt(buf, int64(addr))
	buf = buf[:n]
	if len(buf) < 2 {
		return "", ""
	}
	switch binary.LittleEndian.Uint16(buf) {
	case unix.AF_INET:
		if len(buf) >= 8 {
			ip := netip.AddrFrom4([4]byte(buf[4:8]))
			return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(buf[2:4])).String(), ""
		}
	case unix.AF_INET6:
		if len(buf) >= 24 {
			ip := netip.AddrFrom16([16]byte(buf[8:24])).Unmap()
			return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(buf[2:4])).String(), ""
		}
	case unix.AF_UNIX:
		p := buf[2:]
		if len(p) > 0 && p[0] == 0 {
			return "", audit.Clean("@"+string(p[1:]), 200) // abstract
		}
		if i := strings.IndexByte(string(p), 0); i >= 0 {
			p = p[:i]
		}
		return "", audit.Clean(string(p), 200)
	}
	return "", ""
}
