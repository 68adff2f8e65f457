package pyrt

import (
	"io/fs"
	"syscall"
)

// inode returns the device and inode number of fi, or zeros.
func inode(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}
