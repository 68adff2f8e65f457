package egress

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

func TestSinkAnswer(t *testing.T) {
	md := honeytoken.NewMetadata()
	imds := netip.AddrPortFrom(MetadataAddr, 80)
	other := netip.MustParseAddrPort("198.18.0.7:80")
	for _, c := range []struct {
		dst    netip.AddrPort
		req    string
		status string
		body   string
		served string
	}{
		{other, "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: evil.example\r\n\r\n", "200 OK", "", ""},
		{imds, "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n", "200 OK", "AQAEA", ""},
		{imds, "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\n\r\n", "200 OK", md.Role, ""},
		{imds, "GET /latest/meta-data/iam/security-credentials/" + md.Role + " HTTP/1.1\r\n\r\n", "200 OK", md.SecretAccessKey, "imds-aws-secret-access-key"},
		{imds, "GET http://169.254.169.254/latest/meta-data/iam/security-credentials/" + md.Role + " HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n", "200 OK", md.AccessKeyID, "imds-aws-access-key-id"},
		{imds, "GET /latest/meta-data/nothing HTTP/1.1\r\n\r\n", "404 Not Found", "", ""},
		{other, "GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1\r\nHost: metadata.google.internal\r\nMetadata-Flavor: Google\r\n\r\n", "200 OK", md.GCPToken, "gcp-metadata-token"},
		{imds, "GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1\r\nHost: metadata.google.internal\r\n\r\n", "403 Forbidden", "Metadata-Flavor", ""},
		{imds, "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata:true\r\n\r\n", "200 OK", md.AzureToken, "azure-metadata-token"},
		{imds, "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net HTTP/1.1\r\nMetadata: true\r\n\r\n", "200 OK", `"resource":"https://vault.azure.net"`, "azure-metadata-token"},
		{imds, "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=x HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n", "400 Bad Request", "Required metadata header", ""},
		{imds, "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=x HTTP/1.1\r\nMetadata: true\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n", "400 Bad Request", "", ""},
		{imds, "GET /metadata/identity/oauth2/token?api-version=2018-02-01 HTTP/1.1\r\nMetadata: true\r\n\r\n", "400 Bad Request", "resource", ""},
		{imds, "GET /metadata/instance?api-version=2021-02-01 HTTP/1.1\r\nMetadata: true\r\n\r\n", "200 OK", `"vmSize":"Standard_D2s_v3"`, ""},
	} {
		resp, meta, served := sinkAnswer(md, c.dst, []byte(c.req))
		r := string(resp)
		if !strings.HasPrefix(r, "HTTP/1.1 "+c.status+"\r\n") || !strings.Contains(r, c.body) || !strings.Contains(served, c.served) || (c.served == "") != (served == "") ||
			meta != (c.dst != other || strings.Contains(c.req, "metadata.google.internal")) {
			t.Errorf("%q to %s: %q, served %q", c.req, c.dst, r, served)
		}
	}
	// No metadata to serve (the report is off): plain 200 everywhere.
	if resp, _, served := sinkAnswer(nil, imds, []byte("GET /latest/meta-data/ HTTP/1.1\r\n\r\n")); string(resp) != string(http200) || served != "" {
		t.Errorf("nil metadata: %q %q", resp, served)
	}
}

func FuzzSinkAnswer(f *testing.F) {
	f.Add([]byte("GET /latest/meta-data/iam/security-credentials/ec2-app-role HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"))
	f.Add([]byte("GET /computeMetadata/v1/ HTTP/1.1\r\nHost: metadata.google.internal:80\r\nMetadata-Flavor: Google\r\n\r\n"))
	f.Add([]byte("GET /metadata/identity/oauth2/token?resource=x HTTP/1.1\r\nMetadata: true\r\n\r\n"))
	md := honeytoken.NewMetadata()
	f.Fuzz(func(t *testing.T, req []byte) {
		resp, _, _ := sinkAnswer(md, netip.AddrPortFrom(MetadataAddr, 80), req)
		if !strings.HasPrefix(string(resp), "HTTP/1.1 ") {
			t.Fatalf("not an HTTP answer: %q", resp)
		}
	})
}
