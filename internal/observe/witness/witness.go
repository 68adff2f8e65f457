// Package witness watches planted files from outside the program that may
// read them: the kernel's access and change times are the evidence. It is
// a leaf package (no moat types), so the sandbox inits can use it without
// initializing the rest of moat before they run.
package witness

// File is a file to watch: Path inside the sandbox (for what Check says),
// Host where the witness opens it.
type File struct{ Path, Host string }

// Kind is what a [Change] saw.
type Kind int

const (
	// Read: the file's access time moved; its content was read.
	Read Kind = iota + 1
	// Altered: its change time moved (times set, mode, links or content
	// changed, removed).
	Altered
	// Failed: the witness could not look (Detail says why).
	Failed
)

// Change is one thing the witness saw of one file.
type Change struct {
	Path   string
	Kind   Kind
	Detail string
}
