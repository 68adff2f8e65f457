package docker

import (
	"os"

	"golang.org/x/sys/unix"
)

// punchHole gives back the space of n bytes of f from off, which read as
// zeros after; the file's size, and so a writer's appending offset, stay.
func punchHole(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}
