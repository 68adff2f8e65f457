// Package netns holds what moat does inside a network namespace it made
// for a sandbox, whoever made it (the native init, gVisor's sink, the
// micro-VM's guest).
package netns

import "golang.org/x/sys/unix"

// LoopbackUp brings lo up in the calling thread's network namespace
// (127.0.0.1 and ::1 come with it).
func LoopbackUp() error { return LinkUp("lo") }

// LinkUp brings the interface name up in the calling thread's network
// namespace.
func LinkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
