package xattr

import (
	"bytes"
	"errors"

	"golang.org/x/sys/unix"
)

// Read returns the extended attributes of the file or directory at
// p, never following a link (llistxattr and lgetxattr act on the link
// itself, and the last component is not resolved through it), at most
// MaxCount of them and MaxValue bytes of each value. A file system
// without them (ENOTSUP) has none. Whatever the namespace (user.*, and
// trusted.* or security.* where the run could set them): all are read.
func Read(p string) ([]Attr, error) {
	// The list of names is at most 64 KiB (XATTR_LIST_MAX).
	list := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, list)
	switch {
	case errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP):
		return nil, nil
	case err != nil:
		return nil, err
	}
	var out []Attr
	val := make([]byte, MaxValue)
	for _, name := range bytes.Split(list[:n], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		if len(out) >= MaxCount {
			return out, errors.New("more extended attributes than read")
		}
		k, err := unix.Lgetxattr(p, string(name), val)
		if err != nil {
			if errors.Is(err, unix.ERANGE) {
				return out, err // past XATTR_SIZE_MAX: not read, said
			}
			continue // gone since it was listed
		}
		out = append(out, Attr{Name: string(name), Value: bytes.Clone(val[:k])})
	}
	return out, nil
}
