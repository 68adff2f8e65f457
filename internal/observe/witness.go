package observe

import (
	"fmt"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

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
