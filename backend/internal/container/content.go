package container

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"

	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
)

// spool keeps the data of the files the init sends ('c' frames,
// ctrinit.Content) for the diff, on an unlinked file of the host's
// temporary directory rather than in memory: at most limit bytes of
// data and ctrinit.MaxContentFrames runs of it, whatever the frames say.
// Nothing the init sends sizes an allocation of the host's: an offset
// only places the bytes that came, a hole costs nothing, and a frame out
// of order is dropped. The diff reads it back a window at a time.
type spool struct {
	f      *os.File // nil until the first data, or when it could not be made
	size   int64    // bytes written to f
	limit  int64
	frames int
	files  map[string]*spooled
	// dropped counts the frames not kept (malformed, out of order, past
	// a bound); failed says why the spool file could not be had.
	dropped int
	failed  error
}

// spooled is one file as sent: its runs of data in order, and where the
// init said it ended (-1: not yet).
type spooled struct {
	runs []run
	end  int64
}

// run is bytes [off, off+n) of a file, at at in the spool.
type run struct{ off, n, at int64 }

func newSpool(limit int64) *spool {
	return &spool{limit: limit, files: map[string]*spooled{}}
}

// frame takes one 'c' frame.
func (s *spool) frame(body []byte) {
	if len(body) < 9 || s.frames >= ctrinit.MaxContentFrames {
		s.dropped++
		return
	}
	off := int64(binary.BigEndian.Uint64(body))
	i := bytes.IndexByte(body[8:], 0)
	if off < 0 || i <= 0 {
		s.dropped++
		return
	}
	path, data := string(body[8:8+i]), body[8+i+1:]
	fl := s.files[path]
	if fl == nil {
		fl = &spooled{end: -1}
	}
	last := int64(0)
	if k := len(fl.runs); k > 0 {
		last = fl.runs[k-1].off + fl.runs[k-1].n
	}
	// In order, once, and no more than the budget: anything else is not
	// the init's (and is not kept).
	if fl.end >= 0 || off < last || off > 1<<62 || int64(len(data)) > s.limit-s.size {
		s.dropped++
		return
	}
	s.frames++
	s.files[path] = fl
	if len(data) == 0 {
		fl.end = off
		return
	}
	if s.f == nil && s.failed == nil {
		s.f, s.failed = tempUnlinked()
	}
	if s.failed != nil {
		s.dropped++
		return
	}
	if _, err := s.f.WriteAt(data, s.size); err != nil {
		s.failed = err
		s.dropped++
		return
	}
	if k := len(fl.runs); k > 0 && last == off && fl.runs[k-1].at+fl.runs[k-1].n == s.size {
		fl.runs[k-1].n += int64(len(data)) // the same run, further
	} else {
		fl.runs = append(fl.runs, run{off, int64(len(data)), s.size})
	}
	s.size += int64(len(data))
}

// tempUnlinked is a new file of the host's temporary directory, already
// removed: nothing is left behind whatever ends the run.
func tempUnlinked() (*os.File, error) {
	f, err := os.CreateTemp("", "moat-content-")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// close lets the spool's file go.
func (s *spool) close() {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
}

var errNotSent = errors.New("content not sent")

// data is the diff's Data (observe.Differ): the next run at or after
// off, or the file's end when none is left; an error when the init sent
// nothing of the file, or stopped short of off (its budget).
func (s *spool) data(p string, off int64) (int64, int64, error) {
	fl := s.files[p]
	if fl == nil {
		return 0, 0, errNotSent
	}
	for _, r := range fl.runs {
		if r.off+r.n > off {
			return r.off, r.off + r.n, nil
		}
	}
	if fl.end < 0 || fl.end < off {
		return 0, 0, errNotSent // cut before its end
	}
	return fl.end, fl.end, nil
}

// readAt is the diff's ReadAt: up to n bytes of p from off, within the
// run that holds off.
func (s *spool) readAt(p string, off, n int64) ([]byte, error) {
	fl := s.files[p]
	if fl == nil {
		return nil, errNotSent
	}
	for _, r := range fl.runs {
		if off < r.off || off >= r.off+r.n {
			continue
		}
		buf := make([]byte, min(n, r.off+r.n-off))
		k, err := s.f.ReadAt(buf, r.at+off-r.off)
		if k == len(buf) {
			err = nil
		}
		return buf[:k], err
	}
	return nil, nil // a hole, or past what was sent
}
