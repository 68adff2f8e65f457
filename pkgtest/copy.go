package pkgtest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// copyTree copies the tree at src into dst (made if missing) through
// treecopy: no link is ever followed; keepLinks recreates them as links.
func copyTree(src, dst string, keepLinks bool) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	_, err := treecopyPipe(src, dst, treecopy.Limits{Bytes: moat.DefaultDisk, Files: 1 << 20}, keepLinks)
	return err
}

func treecopyPipe(src, dst string, lim treecopy.Limits, keepLinks bool) (*treecopy.Report, error) {
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := treecopy.Pack(pw, src, lim)
		pw.CloseWithError(err)
		errc <- err
	}()
	rep, err := treecopy.Unpack(pr, dst, lim, treecopy.Options{KeepLinks: keepLinks})
	_, _ = io.Copy(io.Discard, pr)
	if perr := <-errc; perr != nil && err == nil {
		err = perr
	}
	return rep, err
}

// copyFile copies the regular file src to dst, making dst's directory.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", src, err, ErrUsage)
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
