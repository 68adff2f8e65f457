//go:build !linux

package pyrt

import "io/fs"

// inode is not available portably outside Linux; size and mtime still
// guard the cache.
func inode(fs.FileInfo) (dev, ino uint64) { return 0, 0 }
