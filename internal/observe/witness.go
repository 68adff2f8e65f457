package observe

import (
	"fmt"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
	"github.com/moat-sandbox/moat/internal/observe/witness"
)

// Witness is a [witness.Witness] that reports in moat's events: the
// kernel's evidence of reads of the planted honeytoken files, which the
// program can neither switch off nor forge (see package witness).
type Witness struct{ w *witness.Witness }

// ArmWitness arms a witness of files (Path inside the sandbox, Host where
// the witness opens it); on error nothing is held, and the reads of the
// planted files rest on the audit hook alone.
func ArmWitness(files []Root) (*Witness, error) {
	fs := make([]witness.File, len(files))
	for i, f := range files {
		fs[i] = witness.File{Path: f.Path, Host: f.Host}
	}
	w, err := witness.Arm(fs)
	if err != nil {
		return nil, err
	}
	return &Witness{w}, nil
}

// Check reports, as "kernel" events at time at, every planted file read
// (KindHoneytokenRead) or altered (KindHoneytokenAltered), then closes the
// witness. Call it once the program and all it started are dead, before
// anything of moat's reads the files. A nil Witness reports nothing.
func (w *Witness) Check(at int64) []moat.Event {
	if w == nil {
		return nil
	}
	var evs []moat.Event
	for _, c := range w.w.Check() {
		e := moat.Event{Source: moat.SourceKernel, Path: c.Path, TimeMS: at, Detail: c.Detail}
		switch c.Kind {
		case witness.Read:
			e.Kind = moat.KindHoneytokenRead
		case witness.Altered:
			e.Kind = moat.KindHoneytokenAltered
		default:
			e.Source, e.Kind = moat.SourceMoat, moat.KindError
		}
		evs = append(evs, e)
	}
	return evs
}

// Close releases what the witness holds.
func (w *Witness) Close() {
	if w != nil {
		w.w.Close()
	}
}

// ArmWitnessEvent is [ArmWitness] with the "moat" event that says the
// witness is on, or why it is off (then the reads of the planted files
// rest on the audit hook alone, and the report says so).
func ArmWitnessEvent(files []Root) (*Witness, moat.Event) {
	w, err := ArmWitness(files)
	if err != nil {
		return nil, moat.Event{Source: moat.SourceMoat, Kind: moat.KindHoneytokenWitness, Detail: "off: " + audit.Clean(err.Error(), 300)}
	}
	return w, moat.Event{Source: moat.SourceMoat, Kind: moat.KindHoneytokenWitness,
		Detail: fmt.Sprintf("on: the access and change times of %d planted files, kept by the kernel", len(files))}
}

// TokenFiles lists, once each and in order, the planted files that hold
// a token: what a [Witness] watches. host maps a path inside the
// sandbox to where the witness opens it.
func TokenFiles(tokens []honeytoken.Token, files map[string]string, host func(string) string) []Root {
	seen := map[string]bool{}
	var out []Root
	for _, t := range tokens {
		if _, planted := files[t.Path]; planted && !seen[t.Path] {
			seen[t.Path] = true
			out = append(out, Root{Path: t.Path, Host: host(t.Path)})
		}
	}
	return out
}
