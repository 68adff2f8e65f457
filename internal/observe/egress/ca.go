package egress

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The sinkhole terminates TLS: a program's HTTPS request reaches the sink
// in clear, so what it sends (a stolen token in a POST body, a path, a
// header) is recorded like plain HTTP. For that each run gets its own
// certificate authority, made in the sandbox init when the network comes
// up ([NewCA]):
//
//   - the key pair is ECDSA P-256, made from crypto/rand, and lives only
//     in the init's memory (the init is not dumpable, so the program can
//     neither ptrace it nor read /proc/1/mem); it is never written
//     anywhere;
//   - the certificate looks like a corporate or TLS-inspecting proxy's
//     root: a name drawn from [caNames], made one to four years before
//     the run (a random second of that span), valid ten or twenty years
//     from then (a CA made for the run and valid a day is a tell); it may
//     sign only server certificates (path length 0). Its key dies with
//     the run, so the long validity is worth nothing after it, nor
//     anywhere else;
//   - only the certificate is written, into the sandbox's /etc while the
//     root is still writable ([WriteCA]); the root is then remounted
//     read-only, so the program cannot swap it. [CAEnv] points the usual
//     variables (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, PIP_CERT, ...) at it,
//     for clients with their own bundle (certifi).
//
// The sink answers a ClientHello with a leaf certificate for the SNI name
// (or the address asked, without SNI), made on the fly and cached.

// CAFile is the system trust store inside the sandbox, holding only the
// run's CA: Debian's path, which OpenSSL, Go and most tools look at.
const CAFile = "/etc/ssl/certs/ca-certificates.crt"

// caFiles are where the certificate is written, relative to /etc.
var caFiles = []string{"ssl/certs/ca-certificates.crt", "ssl/cert.pem"}

// caEnv names the variables through which clients that bring their own
// bundle are pointed at the run's CA.
var caEnv = []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT", "NODE_EXTRA_CA_CERTS",
	"GIT_SSL_CAINFO", "AWS_CA_BUNDLE", "HTTPLIB2_CA_CERTS"}

// caNames are the subjects a run's CA is drawn from: what corporate
// roots and TLS-inspecting proxies' CAs are called, no vendor's name.
var caNames = []pkix.Name{
	{CommonName: "Corporate Root CA", Organization: []string{"IT Services"}},
	{CommonName: "Enterprise Root CA G2", Organization: []string{"Information Security"}},
	{CommonName: "Internal Root CA", Organization: []string{"Internal"}},
	{CommonName: "Proxy Root Certificate Authority", Organization: []string{"Network Operations"}},
	{CommonName: "IT Root Certification Authority", Organization: []string{"IT Department"}},
	{CommonName: "SSL Inspection Root CA", Organization: []string{"Security Operations"}},
}

// leafLifetime is how long a leaf is valid from the day before the run:
// a proxy's leaves are valid about a year.
const leafLifetime = 365 * 24 * time.Hour

// maxLeaves bounds the leaf cache; past it leaves are made per flow.
const maxLeaves = 1024

// CA is one run's certificate authority. It is safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	leafKey *ecdsa.PrivateKey // one key for every leaf: only its certificate differs
	// leafStart is when every leaf becomes valid: a day before the run,
	// at a random second of it.
	leafStart time.Time
	pem       []byte

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
}

// NewCA makes a fresh CA valid around now.
func NewCA(now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("leaf key: %w", err)
	}
	// One to four years before now, at a random second.
	start := now.Add(-365 * 24 * time.Hour).Add(-time.Duration(randN(3*365*24*3600)) * time.Second).Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               caNames[randN(len(caNames))],
		NotBefore:             start,
		NotAfter:              start.AddDate([]int{10, 20}[randN(2)], 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	leafStart := now.Add(-24 * time.Hour).Add(-time.Duration(randN(24*3600)) * time.Second).Truncate(time.Second)
	return &CA{cert: cert, key: key, leafKey: leafKey, leafStart: leafStart, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		leaves: map[string]*tls.Certificate{}}, nil
}

// randN is a uniform int in [0, n) from crypto/rand (0 if it fails).
func randN(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}

// PEM is the CA's certificate, PEM-encoded: what the sandbox trusts.
func (ca *CA) PEM() []byte { return ca.pem }

// Leaf returns a server certificate for name, a DNS name or an IP
// literal, signed by the CA. name comes from the program (its SNI): one
// that is no valid DNS name or address gets no certificate.
func (ca *CA) Leaf(name string) (*tls.Certificate, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	ca.mu.Lock()
	c := ca.leaves[name]
	ca.mu.Unlock()
	if c != nil {
		return c, nil
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    ca.leafStart,
		NotAfter:     ca.leafStart.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if a, err := netip.ParseAddr(name); err == nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, a.AsSlice())
	} else if validDNSName(name) {
		tmpl.DNSNames = []string{name}
	} else {
		return nil, fmt.Errorf("no certificate for the name %q", Escape([]byte(name), maxField))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &ca.leafKey.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate: %w", err)
	}
	c = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: ca.leafKey}
	ca.mu.Lock()
	if len(ca.leaves) < maxLeaves {
		ca.leaves[name] = c
	}
	ca.mu.Unlock()
	return c, nil
}

// validDNSName accepts names of letters, digits, '-', '_' and '.' (and a
// leading "*." wildcard is not asked for by clients), at most 253 bytes.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// WriteCA writes the CA certificate into etc (the sandbox's /etc while
// its root is still writable) as the system trust store.
func WriteCA(etc string, pemBytes []byte) error {
	for _, f := range caFiles {
		p := filepath.Join(etc, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("ca file: %w", err)
		}
		if err := os.WriteFile(p, pemBytes, 0o644); err != nil {
			return fmt.Errorf("ca file: %w", err)
		}
	}
	return nil
}

// CAEnv returns env with each CA variable pointing at CAFile, unless env
// already sets it (the caller's --env wins).
func CAEnv(env []string) []string {
	given := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		given[k] = true
	}
	for _, k := range caEnv {
		if !given[k] {
			env = append(env, k+"="+CAFile)
		}
	}
	return env
}
