package moattest

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// hostPty is a pseudo-terminal of the host's (the test's own devpts):
// what the terminal moat was started from is to the program, a tty
// outside the sandbox. Its slave is in raw mode, so that a byte pushed
// into its input (TIOCSTI) is counted at once by pending.
type hostPty struct {
	master, slave *os.File
	path          string // the slave's name on the host, /dev/pts/N
}

func openHostPty() (*hostPty, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("ptsname: %w", err)
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	s, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, err
	}
	tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err == nil {
		tio.Lflag &^= unix.ICANON | unix.ECHO
		err = unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio)
	}
	if err != nil {
		m.Close()
		s.Close()
		return nil, fmt.Errorf("raw mode: %w", err)
	}
	return &hostPty{master: m, slave: s, path: path}, nil
}

// pending is how many bytes wait in the input of the slave (what a shell
// reading the terminal would read next) and of the master.
func (p *hostPty) pending() (slave, master int, err error) {
	if slave, err = unix.IoctlGetInt(int(p.slave.Fd()), unix.TIOCINQ); err != nil {
		return 0, 0, err
	}
	master, err = unix.IoctlGetInt(int(p.master.Fd()), unix.TIOCINQ)
	return slave, master, err
}

func (p *hostPty) Close() {
	p.slave.Close()
	p.master.Close()
}
