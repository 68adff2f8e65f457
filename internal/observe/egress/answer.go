package egress

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"net/url"
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

// exchange is one HTTP request and what the sink's answer carried.
type exchange struct {
	req    []byte
	meta   bool   // a request for the instance metadata service
	served string // the honeytokens the answer carried
	public bool   // answered as a "what is my IP" service (Public)
	stage2 string // the marker of the inert second stage served (Stage2)
	form   string // its form: formScript, formBase64, formELF
	ws     bool   // a WebSocket upgrade, accepted (101)
}

// answers is what the sinkhole answers besides an empty 200. Nil
// fields: that answer is off.
type answers struct {
	md     *honeytoken.Metadata // the instance metadata service's
	pub    *Public              // "what is my IP" services'
	stage2 *Stage2              // script-like downloads'
}

// sinkAnswer is the sink's reply to one HTTP request (req: its raw bytes,
// as far as read) sent to dst, and what the reply was (exchange without
// its req).
func sinkAnswer(a answers, dst netip.AddrPort, req []byte) (reply []byte, x exchange) {
	sn := Sniff(req)
	host := strings.ToLower(sn.Host)
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	switch {
	case a.md != nil && (dst.Addr() == MetadataAddr || metadataNames[host]):
		reply, x.served = metadataAnswer(a.md, sn, req)
		x.meta = true
		return reply, x
	case sn.Method == "GET" && wsKey(req) != "":
		// A WebSocket client waits for the server's 101 before it sends
		// its first frame: the sink accepts, and keeps what it sends.
		x.ws = true
		return wsAccept(wsKey(req)), x
	case a.pub != nil && sn.Method == "GET" && whatIsMyIP[strings.TrimPrefix(host, "www.")]:
		if reply = a.pub.answer(host, originForm(sn.Path)); reply != nil {
			x.public = true
			return reply, x
		}
	case a.stage2 != nil:
		if x.form = stage2Form(sn.Method, host, originForm(sn.Path), headerValue(req, "user-agent"), headerValue(req, "accept")); x.form != "" {
			var body, ctype string
			x.stage2, body, ctype = a.stage2.payload(x.form)
			return response(200, ctype, body, nil), x
		}
	}
	return http200, x
}

// originForm is a request target without its scheme and authority (a
// proxy's absolute form, "http://host/path"): the path and query.
func originForm(target string) string {
	for _, scheme := range []string{"http://", "https://"} {
		if rest, ok := strings.CutPrefix(target, scheme); ok {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				return rest[i:]
			}
			return "/"
		}
	}
	return target
}

// headerValue is the value of the request's header name (lower case), ""
// if it has none.
func headerValue(req []byte, name string) string {
	head, _, _ := bytes.Cut(req, []byte("\r\n\r\n"))
	for _, line := range bytes.Split(head, []byte("\n"))[1:] {
		k, v, ok := bytes.Cut(bytes.TrimRight(line, "\r"), []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(k)), name) {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}

// metadataAnswer answers like the metadata services of AWS (IMDSv1 and
// v2), GCP and Azure: the paths that malware asks for, the role's or
// managed identity's credentials.
func metadataAnswer(md *honeytoken.Metadata, sn Sniffed, req []byte) ([]byte, string) {
	path, query, _ := strings.Cut(sn.Path, "?")
	path = strings.TrimPrefix(path, "http://"+sn.Host) // an absolute request target
	now := time.Now().UTC()
	lower := bytes.ToLower(req)
	if strings.HasPrefix(path, "/metadata/") {
		return azureAnswer(md, path, query, lower, now)
	}
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
		return response(200, "text/plain", `{"Code":"Success","InstanceProfileArn":"arn:aws:iam::482910374651:instance-profile/`+md.Role+`","InstanceProfileId":"`+md.ProfileID+`"}`, nil), ""
	case path == "/latest/meta-data/instance-id":
		return response(200, "text/plain", md.InstanceID, nil), ""
	case path == "/latest/meta-data/placement/region", path == "/latest/meta-data/placement/availability-zone":
		return response(200, "text/plain", "us-east-1", nil), ""
	case path == "/latest/dynamic/instance-identity/document":
		return response(200, "text/plain", `{"accountId":"482910374651","instanceId":"`+md.InstanceID+`","region":"us-east-1","instanceType":"m5.large"}`, nil), ""
	}
	return response(404, "text/html", "404 - Not Found\n", nil), ""
}

// azureAnswer answers like Azure's instance metadata service: it wants the
// header "Metadata: true" (and no X-Forwarded-For), then serves the
// managed identity's token and the instance document.
func azureAnswer(md *honeytoken.Metadata, path, query string, lower []byte, now time.Time) ([]byte, string) {
	if !hasHeader(lower, "metadata", "true") || hasHeader(lower, "x-forwarded-for", "") {
		return response(400, "application/json", `{"error":"bad_request","error_description":"Required metadata header not specified"}`, nil), ""
	}
	q, _ := url.ParseQuery(query)
	switch strings.TrimSuffix(path, "/") {
	case "/metadata/identity/oauth2/token":
		resource := q.Get("resource")
		if resource == "" {
			return response(400, "application/json", `{"error":"invalid_request","error_description":"Required query variable 'resource' is missing"}`, nil), ""
		}
		exp := strconv.FormatInt(now.Add(24*time.Hour).Unix(), 10)
		b, _ := json.Marshal(map[string]string{
			"access_token": md.AzureToken, "client_id": md.AzureClientID, "expires_in": "86399", "expires_on": exp,
			"ext_expires_in": "86399", "not_before": strconv.FormatInt(now.Add(-5*time.Minute).Unix(), 10),
			"resource": resource, "token_type": "Bearer",
		})
		return response(200, "application/json; charset=utf-8", string(b), nil), "azure-metadata-token"
	case "/metadata/instance", "/metadata/instance/compute":
		b, _ := json.Marshal(map[string]any{"compute": map[string]any{
			"azEnvironment": "AzurePublicCloud", "location": "westeurope", "name": "app-vm-1", "osType": "Linux",
			"resourceGroupName": "prod-app", "subscriptionId": "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", "vmId": md.AzureClientID,
			"vmSize": "Standard_D2s_v3",
		}, "network": map[string]any{"interface": []any{map[string]any{"ipv4": map[string]any{"ipAddress": []any{map[string]string{"privateIpAddress": "10.0.0.4"}}}}}}})
		return response(200, "application/json; charset=utf-8", string(b), nil), ""
	}
	return response(404, "application/json", `{"error":"Not found"}`, nil), ""
}

// keepAlive turns an answer's "Connection: close" into keep-alive: the
// sink reads the client's next request on the same connection.
func keepAlive(resp []byte) []byte {
	return bytes.Replace(resp, []byte("\r\nConnection: close\r\n"), []byte("\r\nConnection: keep-alive\r\n"), 1)
}

func response(code int, ctype, body string, headers []string) []byte {
	status := map[int]string{200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}[code]
	var b strings.Builder
	b.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + status + "\r\n")
	b.WriteString("Content-Type: " + ctype + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n" + body)
	return []byte(b.String())
}

// hasHeader reports whether the request (lower-cased) has the header name,
// with the value value if that is not "".
func hasHeader(lower []byte, name, value string) bool {
	head, _, _ := bytes.Cut(lower, []byte("\r\n\r\n"))
	for _, line := range bytes.Split(head, []byte("\n"))[1:] {
		k, v, ok := bytes.Cut(bytes.TrimRight(line, "\r"), []byte(":"))
		if ok && string(bytes.TrimSpace(k)) == name && (value == "" || string(bytes.TrimSpace(v)) == value) {
			return true
		}
	}
	return false
}

// wsKey is the Sec-WebSocket-Key of a WebSocket upgrade request (RFC
// 6455: Upgrade: websocket, a key of 16 bytes in base64), "" if req is
// none.
func wsKey(req []byte) string {
	if !strings.EqualFold(headerValue(req, "upgrade"), "websocket") {
		return ""
	}
	k := headerValue(req, "sec-websocket-key")
	if b, err := base64.StdEncoding.DecodeString(k); err != nil || len(b) != 16 {
		return ""
	}
	return k
}

// wsGUID is RFC 6455's, hashed with the client's key into the accept.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsAccept is the server's 101 to a WebSocket upgrade with key.
func wsAccept(key string) []byte {
	h := sha1.Sum([]byte(key + wsGUID))
	return []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n")
}
