package procmem

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/moat-sandbox/moat/internal/observe/audit"
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
