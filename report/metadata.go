package report

import (
	"strings"

	"github.com/moat-sandbox/moat"
)

// metadataAccess: requests the network sink answered as the cloud
// instance metadata service (169.254.169.254, metadata.google.internal).
// Taking a role's keys from it is credential theft (high); asking it
// anything else is looking for them (medium). The sink saw it from
// outside the program, so the program cannot hide or forge it.
func (a *analysis) metadataAccess() {
	var took, asked []moat.Event
	var ids, paths []string
	for _, e := range a.evs {
		if e.Source != moat.SourceNetwork || e.Kind != moat.KindMetadata {
			continue
		}
		if served, ok := strings.CutPrefix(e.Detail, "served fake instance credentials: "); ok {
			took = append(took, e)
			ids = append(ids, strings.Split(served, ",")...)
		} else {
			asked = append(asked, e)
			paths = append(paths, e.Path)
		}
	}
	switch {
	case len(took) > 0:
		a.add(moat.CategoryCredentialAccess, moat.SeverityHigh,
			"took fake cloud credentials from the instance metadata service ("+joinBounded(uniq(ids), 5)+")", append(took, asked...))
	case len(asked) > 0:
		a.add(moat.CategoryCredentialAccess, moat.SeverityMedium,
			"queried the cloud instance metadata service: "+joinBounded(uniq(paths), 5), asked)
	}
}
