// Package outdir copies what a run left in its working directory to
// Spec.OutDir, under the caps every backend shares. The copy is untrusted:
// links are never followed (kept as links only with Spec.OutLinks), names
// are checked by treecopy, and whatever is left out is named in the report.
package outdir

import (
	"errors"
	"io"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// Limits caps every copy-out: what a run sends back is bounded whatever
// the backend.
var Limits = treecopy.Limits{Bytes: moat.DefaultOutBytes, Files: moat.DefaultOutFiles}

// Unpack reads a treecopy stream of the working directory into
// spec.OutDir, then drains r so the writer never blocks on a reader that
// stopped early.
func Unpack(r io.Reader, spec *moat.Spec) (*treecopy.Report, error) {
	rep, err := treecopy.Unpack(r, spec.OutDir, Limits, treecopy.Options{KeepLinks: spec.OutLinks})
	_, _ = io.Copy(io.Discard, r)
	return rep, err
}

// Report is the result's account of a copy-out: what came, what was left
// out, and the error, if any.
func Report(spec *moat.Spec, rep *treecopy.Report, err error) *moat.OutReport {
	out := &moat.OutReport{Dir: spec.OutDir}
	if rep != nil {
		out.Files, out.Bytes, out.Skipped = rep.Files, rep.Bytes, rep.Skipped
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// Copy copies the host's view of a finished sandbox's working directory,
// work, to spec.OutDir.
func Copy(work string, spec *moat.Spec) *moat.OutReport {
	pr, pw := io.Pipe()
	go func() {
		err := treecopy.Pack(pw, work, Limits)
		if errors.Is(err, treecopy.ErrLimit) || errors.Is(err, treecopy.ErrIncomplete) {
			err = nil // the stream is whole and names what was left out: Unpack reports it
		}
		pw.CloseWithError(err)
	}()
	rep, err := Unpack(pr, spec)
	pr.Close()
	return Report(spec, rep, err)
}
