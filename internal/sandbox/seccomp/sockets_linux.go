//go:build linux && (amd64 || arm64)

package seccomp

import (
	"encoding/binary"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Sockets turns the watched binds and listens of one run into what opens
// a port: a listen of a stream socket (TCP, MPTCP), with the address its
// socket was bound to, and a bind of a datagram socket (UDP) to an inet
// address with a port, which receives from anyone once bound. A bind is
// notified before it happens and a listen names only a descriptor, so
// each bind's address is kept by the socket's inode (the same socket
// in every process that holds it: passed to a child, dup2'd) until its
// listen. A client library's bind (port 0, a Unix or netlink socket) is
// kept, or not, and never recorded.
//
// A listen of a socket whose bind was not seen (never bound: the kernel
// binds it to every address, a port of its own choosing; or forgotten,
// past maxBound) has no address: the caller records it as on every
// address, failing closed. The protocol is the kernel's name of the
// socket (system.sockprotoname of /proc/TID/fd/N), read before the call
// goes on, like the address: evidence, not a decision. Safe for
// concurrent use.
type Sockets struct {
	mu    sync.Mutex
	bound map[uint64][]byte
	order []uint64
}

// maxBound bounds the binds a Sockets keeps; the oldest go first.
const maxBound = 4096

// Bind takes thread tid's bind(fd, sockaddr): it keeps the address for
// the socket's listen and reports whether the bind itself opens a port (a
// UDP socket bound to an inet port).
func (s *Sockets) Bind(tid int, fd int32, sockaddr []byte) (SocketCall, bool) {
	ino, proto := SocketOf(tid, fd)
	c := SocketCall{Sockaddr: append([]byte(nil), sockaddr...), Proto: proto, Inode: ino}
	if !inetPort(sockaddr) {
		return c, false
	}
	if ino != 0 {
		s.mu.Lock()
		if s.bound == nil {
			s.bound = map[uint64][]byte{}
		}
		if _, ok := s.bound[ino]; !ok {
			if len(s.order) >= maxBound {
				delete(s.bound, s.order[0])
				s.order = s.order[1:]
			}
			s.order = append(s.order, ino)
		}
		s.bound[ino] = c.Sockaddr
		s.mu.Unlock()
	}
	return c, strings.HasPrefix(proto, "UDP") && port(sockaddr) != 0
}

// Listen takes thread tid's listen(fd): the socket's bound address as its
// bind named it, and whether it is a listen to record (a stream socket of
// inet: not a Unix socket's, nor a call on something that is no socket).
func (s *Sockets) Listen(tid int, fd int32) (SocketCall, bool) {
	ino, proto := SocketOf(tid, fd)
	c := SocketCall{Proto: proto, Inode: ino}
	if ino == 0 {
		return c, false
	}
	s.mu.Lock()
	c.Sockaddr = s.bound[ino]
	s.mu.Unlock()
	return c, proto == "" || strings.HasPrefix(proto, "TCP") || strings.HasPrefix(proto, "MPTCP")
}

// SocketOf names thread tid's descriptor fd: its socket's inode (0 if it
// is no socket) and its protocol's name as the kernel gives it ("" if it
// could not be read).
func SocketOf(tid int, fd int32) (ino uint64, proto string) {
	if fd < 0 {
		return 0, ""
	}
	link := "/proc/" + strconv.Itoa(tid) + "/fd/" + strconv.Itoa(int(fd))
	var buf [64]byte
	n, err := unix.Readlink(link, buf[:])
	if err != nil {
		return 0, ""
	}
	t, ok := strings.CutPrefix(string(buf[:n]), "socket:[")
	if !ok || !strings.HasSuffix(t, "]") {
		return 0, ""
	}
	ino, err = strconv.ParseUint(strings.TrimSuffix(t, "]"), 10, 64)
	if err != nil {
		return 0, ""
	}
	var p [32]byte
	if k, err := unix.Getxattr(link, "system.sockprotoname", p[:]); err == nil && k > 0 {
		proto = strings.TrimRight(string(p[:k]), "\x00")
	}
	return ino, proto
}

// inetPort: sockaddr is an inet or inet6 address (any port).
func inetPort(sa []byte) bool {
	if len(sa) < 4 {
		return false
	}
	switch binary.LittleEndian.Uint16(sa) {
	case unix.AF_INET:
		return len(sa) >= 8
	case unix.AF_INET6:
		return len(sa) >= 24
	}
	return false
}

// port is an inet sockaddr's port.
func port(sa []byte) uint16 {
	if len(sa) < 4 {
		return 0
	}
	return binary.BigEndian.Uint16(sa[2:4])
}

// StdioSockets names which of thread tid's fds 0, 1 and 2 are sockets
// ("0,1,2"), as an exec's notification finds them: a shell whose stdio is
// a socket is a reverse or bind shell (moat.Event.Stdio).
func StdioSockets(tid int) string {
	var s []string
	var buf [64]byte
	for fd := 0; fd <= 2; fd++ {
		n, err := unix.Readlink("/proc/"+strconv.Itoa(tid)+"/fd/"+strconv.Itoa(fd), buf[:])
		if err == nil && strings.HasPrefix(string(buf[:n]), "socket:") {
			s = append(s, strconv.Itoa(fd))
		}
	}
	return strings.Join(s, ",")
}
