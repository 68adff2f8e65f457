// Package xattr reads the extended attributes of a file the run wrote,
// bounded and never through a link, for the diff's search for planted
// secrets (a secret copied into a "user.*" attribute of a file or a
// directory is out of the content's sight). The diff on the host
// (observe.Differ) and the containers' init (ctrinit) both use it.
package xattr

// Attr is one extended attribute of a file or directory the run wrote:
// its name (with its namespace, "user.comment") and value. A program can
// hide a secret there as well as in the file's content: the diff
// searches both (observe.Differ.Xattrs).
type Attr struct {
	Name  string `json:"n"`
	Value []byte `json:"v"`
}

// Bounds of the extended attributes read: of one file, at most MaxCount
// of them and MaxValue bytes of each value (the kernel's own
// XATTR_SIZE_MAX, so no value is cut); of one diff, MaxTotal bytes
// of names and values, past which the search stops and says so (the
// scan's cut: counted with the events dropped).
const (
	MaxCount = 64
	MaxValue = 64 << 10
	MaxTotal = 4 << 20
)
