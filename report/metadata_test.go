package report

import (
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestMetadataServed: the metadata finding says which fake credentials
// the sink served, from the sink's events alone.
func TestMetadataServed(t *testing.T) {
	t.Parallel()
	asked := moat.Event{Source: moat.SourceNetwork, Kind: moat.KindMetadata, Addr: "169.254.169.254:80", Path: "/latest/meta-data/", Detail: "answered without credentials"}
	took := moat.Event{Source: moat.SourceNetwork, Kind: moat.KindMetadata, Addr: "169.254.169.254:80", Path: "/latest/meta-data/iam/security-credentials/r",
		Detail: "served fake instance credentials: imds-aws-access-key-id,imds-aws-secret-access-key"}
	forged := took
	forged.Source = moat.SourceAudit
	for _, c := range []struct {
		name    string
		evs     []moat.Event
		want    string
		notWant string
	}{
		{"asked", []moat.Event{asked}, "reached for the cloud instance metadata service", "took the fake credentials"},
		{"took", []moat.Event{asked, took}, "took the fake credentials moat's sink served: imds-aws-access-key-id, imds-aws-secret-access-key", auditOnly},
		{"forged by the program", []moat.Event{forged}, auditOnly, "took the fake credentials"},
	} {
		var got *moat.Finding
		for _, f := range Analyze(c.evs) {
			if f.Category == moat.CategoryCredentialAccess {
				if got != nil {
					t.Errorf("%s: two credential-access findings: %+v, %+v", c.name, got, f)
				}
				got = &f
			}
		}
		if got == nil || got.Severity != moat.SeverityHigh || !strings.Contains(got.Summary, c.want) || strings.Contains(got.Summary, c.notWant) {
			t.Errorf("%s: %+v, want %q and not %q", c.name, got, c.want, c.notWant)
		}
	}
}
