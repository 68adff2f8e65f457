package report

import (
	"strings"

	"github.com/moat-sandbox/moat"
)

// metadataServed adds to the metadata finding (see metadata) which fake
// instance credentials moat's network sink served: under a sinkhole,
// 169.254.169.254 and metadata.google.internal answer as a cloud
// instance would, with honeytokens of the run (egress, answer.go). Only
// the sink's own events count: the program cannot forge them.
func (a *analysis) metadataServed() string {
	var ids []string
	for _, e := range a.evs {
		if e.Source != moat.SourceNetwork || e.Kind != moat.KindMetadata {
			continue
		}
		if served, ok := strings.CutPrefix(e.Detail, "served fake instance credentials: "); ok {
			ids = append(ids, strings.Split(served, ",")...)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return "; took the fake credentials moat's sink served: " + joinBounded(uniq(ids), 5)
}
