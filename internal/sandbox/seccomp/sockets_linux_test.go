//go:build linux && (amd64 || arm64)

package seccomp

import (
	"bytes"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// inet4 is struct sockaddr_in of 0.0.0.0:port.
func inet4(port uint16) []byte {
	return []byte{unix.AF_INET, 0, byte(port >> 8), byte(port), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
}

// TestSockets: with real sockets of this process, a UDP bind to a port
// opens one and a TCP bind does not until its listen, which gets the
// bind's address; a bind of port 0 opens nothing; a Unix socket's listen
// and a listen of what is no socket are not recorded; a TCP socket not
// seen bound listens on every address (no address).
func TestSockets(t *testing.T) {
	pid := os.Getpid()
	sock := func(domain, typ int) int32 {
		fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return int32(fd)
	}
	var s Sockets
	udp, tcp, unbound, ux := sock(unix.AF_INET, unix.SOCK_DGRAM), sock(unix.AF_INET, unix.SOCK_STREAM),
		sock(unix.AF_INET6, unix.SOCK_STREAM), sock(unix.AF_UNIX, unix.SOCK_STREAM)
	if c, ok := s.Bind(pid, udp, inet4(5005)); !ok || c.Proto != "UDP" || c.Inode == 0 {
		t.Errorf("UDP bind to 5005: %+v %v, want opened", c, ok)
	}
	if c, ok := s.Bind(pid, udp, inet4(0)); ok {
		t.Errorf("UDP bind to port 0: %+v, want nothing opened", c)
	}
	if c, ok := s.Bind(pid, tcp, inet4(4444)); ok || c.Proto != "TCP" {
		t.Errorf("TCP bind: %+v %v, want nothing opened until the listen", c, ok)
	}
	if c, ok := s.Listen(pid, tcp); !ok || !bytes.Equal(c.Sockaddr, inet4(4444)) {
		t.Errorf("TCP listen: %+v %v, want opened on the bind's address", c, ok)
	}
	if c, ok := s.Listen(pid, unbound); !ok || c.Sockaddr != nil || c.Proto != "TCPv6" {
		t.Errorf("listen of an unbound TCPv6 socket: %+v %v, want opened, no address", c, ok)
	}
	if c, ok := s.Bind(pid, ux, []byte{unix.AF_UNIX, 0, '/', 't'}); ok {
		t.Errorf("Unix bind: %+v, want nothing", c)
	}
	if c, ok := s.Listen(pid, ux); ok {
		t.Errorf("Unix listen: %+v, want nothing", c)
	}
	if c, ok := s.Listen(pid, 0); ok && c.Inode == 0 {
		t.Errorf("listen of fd 0: %+v", c)
	}
}
