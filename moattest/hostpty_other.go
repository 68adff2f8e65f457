//go:build !linux

package moattest

import "errors"

type hostPty struct{ path string }

func openHostPty() (*hostPty, error) {
	return nil, errors.New("a host pty of the test's own is made on Linux only")
}

func (p *hostPty) pending() (int, int, error) { return 0, 0, errors.New("not on Linux") }

func (p *hostPty) Close() {}
