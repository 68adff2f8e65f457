package egress

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// MetadataAddr is the cloud instance metadata service's address (AWS,
// GCP, Azure alike). In sinkhole mode the sink answers it as an instance
// would, with fake credentials, and the resolver gives it to
// metadata.google.internal.
var MetadataAddr = netip.MustParseAddr("169.254.169.254")

// metadataNames resolve to MetadataAddr in sinkhole mode, as on GCP.
var metadataNames = map[string]bool{"metadata.google.internal": true, "metadata": true}

// http200 is the answer to every other request: harmless, empty.
var http200 = []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")

// sinkAnswer is the sink's reply to one HTTP request (req: its raw bytes,
// as far as read) sent to dst. meta says the request was for the
// metadata service; served names the honeytokens the reply carries (""
// for none).
func sinkAnswer(md *honeytoken.Metadata, dst netip.AddrPort, req []byte) (reply []byte, meta bool, served string) {
	sn := Sniff(req)
	host := strings.ToLower(sn.Host)
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	if md != nil && (dst.Addr() == MetadataAddr || metadataNames[host]) {
		reply, served = metadataAnswer(md, sn, req)
		return reply, true, served
	}
	return http200, false, ""
}

// metadataAnswer answers like the metadata services of AWS (IMDSv1 and
// v2) and GCP: the paths that malware asks for, the role's credentials.
func metadataAnswer(md *honeytoken.Metadata, sn Sniffed, req []byte) ([]byte, string) {
	path, _, _ := strings.Cut(sn.Path, "?")
	path = strings.TrimPrefix(path, "http://"+sn.Host) // an absolute request target
	now := time.Now().UTC()
	lower := bytes.ToLower(req)
	if strings.HasPrefix(path, "/computeMetadata/") {
		if !bytes.Contains(lower, []byte("metadata-flavor: google")) {
			return response(403, "text/html", "Missing Metadata-Flavor:Google header.\n", nil), ""
		}
		g := []string{"Metadata-Flavor: Google"}
		switch strings.TrimSuffix(path, "/") {
		case "/computeMetadata/v1/instance/service-accounts/default/token":
			b, _ := json.Marshal(map[string]any{"access_token": md.GCPToken, "expires_in": 3599, "token_type": "Bearer"})
			return response(200, "application/json", string(b), g), "gcp-metadata-token"
		case "/computeMetadata/v1/instance/service-accounts":
			return response(200, "application/text", "default/\napp@prod-svc.iam.gserviceaccount.com/\n", g), ""
		case "/computeMetadata/v1/instance/service-accounts/default/email":
			return response(200, "application/text", "app@prod-svc.iam.gserviceaccount.com", g), ""
		case "/computeMetadata/v1/project/project-id":
			return response(200, "application/text", "prod-svc", g), ""
		case "/computeMetadata/v1/instance/hostname":
			return response(200, "application/text", "app-1.c.prod-svc.internal", g), ""
		}
		return response(404, "text/html", "Not Found\n", g), ""
	}
	if sn.Method == "PUT" && path == "/latest/api/token" { // IMDSv2 session token
		return response(200, "text/plain", "AQAEA"+strings.Repeat("x", 51)+"==", []string{"X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600"}), ""
	}
	creds := "/latest/meta-data/iam/security-credentials/"
	switch {
	case path == "/latest/meta-data" || path == "/latest/meta-data/":
		return response(200, "text/plain", "ami-id\nhostname\niam/\ninstance-id\ninstance-type\nlocal-ipv4\nplacement/\nsecurity-groups", nil), ""
	case path == "/latest/meta-data/iam" || path == "/latest/meta-data/iam/":
		return response(200, "text/plain", "info\nsecurity-credentials/", nil), ""
	case path == strings.TrimSuffix(creds, "/") || path == creds:
		return response(200, "text/plain", md.Role, nil), ""
	case path == creds+md.Role || path == creds+md.Role+"/":
		b, _ := json.MarshalIndent(map[string]string{
			"Code": "Success", "LastUpdated": now.Add(-17 * time.Minute).Format(time.RFC3339), "Type": "AWS-HMAC",
			"AccessKeyId": md.AccessKeyID, "SecretAccessKey": md.SecretAccessKey, "Token": md.SessionToken,
			"Expiration": now.Add(5 * time.Hour).Format(time.RFC3339),
		}, "", "  ")
		return response(200, "text/plain", string(b), nil), "imds-aws-access-key-id,imds-aws-secret-access-key,imds-aws-session-token"
	case path == "/latest/meta-data/iam/info":
		return response(200, "text/plain", `{"Code":"Success","InstanceProfileArn":"arn:aws:iam::482910374651:instance-profile/`+md.Role+`","InstanceProfileId":"AIPAXJ3Q7EXAMPLE5T2QK"}`, nil), ""
	case path == "/latest/meta-data/instance-id":
		return response(200, "text/plain", "i-0b22a22eec53b9321", nil), ""
	case path == "/latest/meta-data/placement/region", path == "/latest/meta-data/placement/availability-zone":
		return response(200, "text/plain", "us-east-1", nil), ""
	case path == "/latest/dynamic/instance-identity/document":
		return response(200, "text/plain", `{"accountId":"482910374651","instanceId":"i-0b22a22eec53b9321","region":"us-east-1","instanceType":"m5.large"}`, nil), ""
	}
	return response(404, "text/html", "404 - Not Found\n", nil), ""
}

func response(code int, ctype, body string, headers []string) []byte {
	status := map[int]string{200: "OK", 403: "Forbidden", 404: "Not Found"}[code]
	var b strings.Builder
	b.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + status + "\r\n")
	b.WriteString("Content-Type: " + ctype + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n" + body)
	return []byte(b.String())
}
