package pkgtest

import (
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// copyTree copies the user's tree at src into dst (made if missing)
// through treecopy: no link is ever followed; keepLinks recreates them as
// links. Anything left out is an error.
func copyTree(src, dst string, keepLinks bool) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	_, err, perr := treecopyPipe(src, dst, treecopy.Limits{Bytes: moat.DefaultDisk, Files: 1 << 20}, treecopy.Options{KeepLinks: keepLinks, AnyNames: true})
	if err == nil {
		err = perr
	}
	return err
}

// treecopyPipe packs src into dst (treecopy.Copy).
func treecopyPipe(src, dst string, lim treecopy.Limits, opt treecopy.Options) (rep *treecopy.Report, unpackErr, packErr error) {
	return treecopy.Copy(src, dst, lim, opt)
}

// copyFile copies the regular file src to dst, making dst's directory.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return usagef("%s: %w", src, err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
