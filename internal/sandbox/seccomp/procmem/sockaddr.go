package procmem

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

// Linux's address families: a sockaddr read on a Linux host, whatever
// moat runs on (a container engine's Linux VM).
const (
	afUnix  = 1
	afInet  = 2
	afInet6 = 10
)

// MaxSockaddr is how much of a socket address ReadSockaddr reads.
const MaxSockaddr = 128

// ParseSockaddr decodes a struct sockaddr as read from a caller's memory
// (a container init sends it raw): "ip:port" for inet, a path for unix
// sockets (escaped), nothing for any other family or a short buffer.
func ParseSockaddr(buf []byte) (hostport, path string) {
	if len(buf) < 2 {
		return "", ""
	}
	switch binary.LittleEndian.Uint16(buf) {
	case afInet:
		if len(buf) >= 8 {
			ip := netip.AddrFrom4([4]byte(buf[4:8]))
			return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(buf[2:4])).String(), ""
		}
	case afInet6:
		if len(buf) >= 24 {
			ip := netip.AddrFrom16([16]byte(buf[8:24])).Unmap()
			return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(buf[2:4])).String(), ""
		}
	case afUnix:
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

// SocketEvent records a socket or socketpair the filter refused for its
// address family (see seccomp's families.go): kind "socket", the family's
// name, and the call as the kernel read it (low 32 bits).
func SocketEvent(pid int, call string, args [6]uint64, errno unix.Errno) moat.Event {
	fam, typ, proto := uint32(args[0]), uint32(args[1]), uint32(args[2])
	return moat.Event{Source: "kernel", Kind: "socket", PID: pid, Name: seccomp.FamilyName(fam),
		Detail: fmt.Sprintf("%s(%s, type %#x, protocol %d) returned %s", call, seccomp.FamilyName(fam), typ, proto, unix.ErrnoName(errno))}
}

// ListenerDetail sets ev's Addr and Detail from what a bind or listen
// opened (ev.Name says which).
func ListenerDetail(ev *moat.Event, c seccomp.SocketCall) {
	proto := audit.Clean(c.Proto, 20)
	if proto == "" {
		proto = "socket"
	}
	ev.Addr, _ = ParseSockaddr(c.Sockaddr)
	ev.Detail = fmt.Sprintf("%s of a %s socket (socket:[%d])", ev.Name, proto, c.Inode)
	if ev.Addr == "" {
		ev.Detail += ", not seen bound: the kernel binds it to every address"
	}
}
