package ctrinit

import (
	"bytes"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The init and a program that fills its memory. The container's memory
// limit holds the init, the program and the tmpfs the program writes,
// whose pages belong to no process and stay charged after their writer
// died; the kernel's OOM killer takes the process with the highest score.
// Two things keep that from being the init (and its report lost):
//
//   - the program's processes start at oom_score_adj 1000 (programOOM),
//     so while any of them lives it is chosen first, however small;
//   - the init holds Header.Reserve bytes, touched, from before the
//     program starts (takeReserve) and lets them go once every process of
//     the program is reaped (release): the room in which it walks and
//     reads the writable directories the program may have filled.

// reserve is memory the init holds for its report.
type reserve struct{ mem []byte }

// takeReserve maps n bytes and touches every page, so that they are
// charged to the container now; n 0: none.
func takeReserve(n int64) (*reserve, error) {
	if n <= 0 {
		return &reserve{}, nil
	}
	b, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("reserve %d bytes: %w", n, err)
	}
	for i := 0; i < len(b); i += os.Getpagesize() {
		b[i] = 1
	}
	return &reserve{mem: b}, nil
}

// release lets the reserve go; it takes no memory of its own.
func (r *reserve) release() {
	if r != nil && r.mem != nil {
		_ = unix.Munmap(r.mem)
		r.mem = nil
	}
}

// openOOM opens the init's oom_score_adj, before it makes itself
// non-dumpable (its /proc files are then root's, and the init is not
// root).
func openOOM() (*os.File, error) {
	f, err := os.OpenFile("/proc/self/oom_score_adj", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("oom score: %w", err)
	}
	return f, nil
}

// programOOM raises the init's oom_score_adj (f, from openOOM) to 1000
// for the program it is about to fork, which inherits it; the returned
// func sets the init's back (lowering to the value it had needs no
// privilege) and closes f.
func programOOM(f *os.File) (restore func() error, err error) {
	if f == nil {
		return nil, fmt.Errorf("oom score: not opened")
	}
	var b [16]byte
	n, _ := f.ReadAt(b[:], 0)
	was := bytes.TrimSpace(b[:max(n, 0)])
	if len(was) == 0 {
		f.Close()
		return nil, fmt.Errorf("oom score: unreadable")
	}
	if _, err := f.WriteAt([]byte("1000"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("oom score: %w", err)
	}
	return func() error {
		defer f.Close()
		if _, err := f.WriteAt(was, 0); err != nil {
			return fmt.Errorf("oom score: %w", err)
		}
		return nil
	}, nil
}
