package report

import (
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestMetadataAccess: the sink's metadata events are credential access,
// high when it served credentials, medium for any other question; the
// audit hook cannot make one.
func TestMetadataAccess(t *testing.T) {
	asked := moat.Event{Source: moat.SourceNetwork, Kind: moat.KindMetadata, Addr: "169.254.169.254:80", Path: "/latest/meta-data/", Detail: "answered without credentials"}
	took := moat.Event{Source: moat.SourceNetwork, Kind: moat.KindMetadata, Addr: "169.254.169.254:80", Path: "/latest/meta-data/iam/security-credentials/r",
		Detail: "served fake instance credentials: imds-aws-access-key-id,imds-aws-secret-access-key"}
	forged := took
	forged.Source = moat.SourceAudit
	for _, c := range []struct {
		name string
		evs  []moat.Event
		sev  moat.Severity
		want string
	}{
		{"asked", []moat.Event{asked}, moat.SeverityMedium, "queried the cloud instance metadata service: /latest/meta-data/"},
		{"took", []moat.Event{asked, took}, moat.SeverityHigh, "took fake cloud credentials from the instance metadata service (imds-aws-access-key-id, imds-aws-secret-access-key)"},
		{"forged by the program", []moat.Event{forged}, "", ""},
	} {
		var got *moat.Finding
		for _, f := range Analyze(c.evs) {
			if f.Category == moat.CategoryCredentialAccess {
				got = &f
			}
		}
		switch {
		case c.sev == "" && got != nil:
			t.Errorf("%s: %+v", c.name, got)
		case c.sev != "" && (got == nil || got.Severity != c.sev || !strings.Contains(got.Summary, c.want)):
			t.Errorf("%s: %+v, want %s %q", c.name, got, c.sev, c.want)
		}
	}
}
