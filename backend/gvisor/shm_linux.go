package gvisor

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/backend/gvisor/sentryinit"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// The host side of the walk of /dev/shm (package sentryinit): a tmpfs of the
// run's own in the bundle (rep.shm) holds the walk file the init writes
// (bound at Tools/walk) and the tree it is unpacked into after the run,
// the diff's root of /dev/shm. The tmpfs bounds both: the walk of a
// /dev/shm of shmSize bytes and sentryinit.Files entries, and its copy.
const (
	shmWalk = "walk"
	shmTree = "tree"
)

// shmHostSize is the size of the host tmpfs for a --disk of disk bytes:
// twice /dev/shm's content (the stream and its copy) and the headers of
// sentryinit.Files entries in each (a tar header and a PAX record of a long name).
func shmHostSize(disk int64) int64 { return 2*shmSize(disk) + 2*sentryinit.Files*2048 }

// prepareShm mounts rep.shm and writes the walk file's nonce.
func (r *runner) prepareShm(rep *report) error {
	dir := filepath.Join(r.dir, "shm")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	opts := fmt.Sprintf("mode=0755,size=%d,nr_inodes=%d", shmHostSize(r.lim.Disk), 2*sentryinit.Files+16)
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	r.shmMounted, rep.shm = dir, dir
	if err := os.Mkdir(filepath.Join(dir, shmTree), 0o700); err != nil {
		return err
	}
	b := make([]byte, sentryinit.NonceLen/2)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	rep.nonce = hex.EncodeToString(b)
	walk := filepath.Join(dir, shmWalk)
	head := rep.nonce
	if pids := r.lim.Pids; pids > 0 {
		// The init keeps the pids limit (sentryinit.PidsDigits).
		head += fmt.Sprintf(" %0*d", sentryinit.PidsDigits, min(pids, 99999999))
	}
	// Root's, mode 0600: the init's (root of the sandbox) alone.
	return os.WriteFile(walk, []byte(head), 0o600)
}

// readEnded opens the walk file and reads the init's account of the
// run's end (rep.ended) from before its trailer, once the nonce is
// checked. It returns the file, open, and where the tree's stream ends;
// or nil and why the walk is not there.
func (rep *report) readEnded() (*os.File, int64, string) {
	if rep.shm == "" {
		return nil, 0, ""
	}
	f, err := os.OpenFile(filepath.Join(rep.shm, shmWalk), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, "/dev/shm was not walked: " + err.Error()
	}
	fail := func(why string) (*os.File, int64, string) {
		f.Close()
		return nil, 0, why
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return fail("/dev/shm was not walked: its walk file is not a file")
	}
	trailer := sentryinit.Trailer + rep.nonce
	end := fi.Size() - int64(len(trailer))
	got := make([]byte, len(trailer))
	if end < 0 {
		return fail("/dev/shm was not walked (the run ended before pid 1 could)")
	}
	if _, err := f.ReadAt(got, end); err != nil || string(got) != trailer {
		return fail("/dev/shm was not walked (the run ended before pid 1 could)")
	}
	// The account and its length, before the trailer.
	lenAt := end - sentryinit.OutlivedDigits
	digits := make([]byte, sentryinit.OutlivedDigits)
	if lenAt < 0 {
		return fail("/dev/shm was not walked (the init's walk has no list of survivors)")
	}
	if _, err := f.ReadAt(digits, lenAt); err != nil {
		return fail("/dev/shm was not walked (the init's walk has no list of survivors)")
	}
	n, err := strconv.Atoi(string(digits))
	if err != nil || n < 0 || n > sentryinit.MaxOutlivedJSON || int64(n) > lenAt {
		return fail("/dev/shm was not walked (the init's list of survivors is malformed)")
	}
	js := make([]byte, n)
	var ended sentryinit.Ended
	if _, err := f.ReadAt(js, lenAt-int64(n)); err != nil || json.Unmarshal(js, &ended) != nil {
		return fail("/dev/shm was not walked (the init's list of survivors is malformed)")
	}
	rep.ended = ended
	return f, lenAt - int64(n), ""
}

// loadShm unpacks the init's walk of /dev/shm into rep.shm/tree, bounded
// and without following a link or writing a special file (treecopy; names
// are escaped where the diff prints them), and returns why the tree is not
// all of /dev/shm, "" when it is. The walk is the init's only when it ends
// with the run's nonce: anything else (the run killed before the init's
// walk, a stream the program wrote) is not read. Before the trailer is
// the init's account of the run's end (writeWalk: what outlived the
// program, which goes to rep.outlived, and the pids limit).
func (rep *report) loadShm() string {
	f, end, why := rep.readEnded()
	if f == nil {
		return why
	}
	defer f.Close()
	rep.outlived = rep.ended.Outlived
	fi, err := f.Stat()
	if err != nil {
		return "/dev/shm was not walked: " + err.Error()
	}
	tree := filepath.Join(rep.shm, shmTree)
	// Whole: an entry the init's caps left out makes the tree partial,
	// which the report says.
	_, err = treecopy.Unpack(io.NewSectionReader(f, 0, end), tree, treecopy.Limits{Bytes: fi.Size(), Files: sentryinit.Files},
		treecopy.Options{KeepLinks: true, AnyNames: true, Whole: true})
	if err != nil {
		return "/dev/shm was walked in part: " + audit.Clean(err.Error(), 300)
	}
	return ""
}
