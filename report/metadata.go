package report

import (
	"strings"

	"github.com/moat-sandbox/moat"
)

// metadataAccess: the network sink served the run's fake instance
// credentials (169.254.169.254, metadata.google.internal). Asking a
// cloud instance for its role's keys is credential theft; the sink saw
// it from outside the program, so the program cannot hide or forge it.
func (a *analysis) metadataAccess() {
	var evs []moat.Event
	var ids []string
	for _, e := range a.evs {
		if e.Source == moat.SourceNetwork && e.Kind == moat.KindMetadata {
			evs = append(evs, e)
			_, served, _ := strings.Cut(e.Detail, ": ")
			ids = append(ids, strings.Split(served, ",")...)
		}
	}
	if len(evs) > 0 {
		a.add(moat.CategoryCredentialAccess, moat.SeverityHigh,
			"took fake cloud credentials from the instance metadata service ("+joinBounded(uniq(ids), 5)+")", evs)
	}
}
