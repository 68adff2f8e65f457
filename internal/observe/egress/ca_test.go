package egress

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

func TestCA(t *testing.T) {
	now := time.Now()
	ca, err := NewCA(now)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.PEM()) {
		t.Fatal("CA PEM does not parse")
	}
	if b, _ := pem.Decode(ca.PEM()); b == nil || strings.Contains(string(ca.PEM()), "PRIVATE") {
		t.Fatal("the PEM must hold the certificate alone")
	}
	for _, name := range []string{"pypi-evil.example", "Bank.Example.", "203.0.113.5", "2001:db8::1"} {
		c, err := ca.Leaf(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		host := strings.ToLower(strings.TrimSuffix(name, "."))
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// A proxy's leaf: valid from before the run for about a year.
		if !leaf.NotBefore.Before(now.Add(-time.Hour)) || leaf.NotAfter.Before(now.Add(300*24*time.Hour)) {
			t.Errorf("%s: valid from %s until %s", name, leaf.NotBefore, leaf.NotAfter)
		}
	}
	for _, bad := range []string{"", "a b", "x\x00y", strings.Repeat("a", 64) + ".example", "é.example"} {
		if _, err := ca.Leaf(bad); err == nil {
			t.Errorf("leaf made for %q", bad)
		}
	}
	// The CA may sign server certificates only, no intermediate.
	root, _ := x509.ParseCertificate(func() []byte { b, _ := pem.Decode(ca.PEM()); return b.Bytes }())
	if !root.IsCA || !root.MaxPathLenZero {
		t.Errorf("root: ca %v pathlen0 %v", root.IsCA, root.MaxPathLenZero)
	}
	// A corporate root's look: made a year or more before the run, valid
	// ten years or more, a name of the list (tells.py checks the same
	// from inside).
	if root.NotBefore.After(now.AddDate(-1, 0, 0)) || root.NotAfter.Sub(root.NotBefore) < 10*365*24*time.Hour || root.Subject.CommonName == "" {
		t.Errorf("root: %q valid from %s until %s", root.Subject.CommonName, root.NotBefore, root.NotAfter)
	}
	// Drawn per run: another CA differs in its start.
	other, err := NewCA(now)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := x509.ParseCertificate(func() []byte { b, _ := pem.Decode(other.PEM()); return b.Bytes }()); o.NotBefore.Equal(root.NotBefore) {
		t.Errorf("two CAs made at %s", o.NotBefore)
	}
}

func TestCAEnv(t *testing.T) {
	env := CAEnv([]string{"PATH=/bin", "PIP_CERT=/mine.pem"})
	got := strings.Join(env, " ")
	for _, want := range []string{"SSL_CERT_FILE=" + CAFile, "REQUESTS_CA_BUNDLE=" + CAFile, "CURL_CA_BUNDLE=" + CAFile, "NODE_EXTRA_CA_CERTS=" + CAFile} {
		if !strings.Contains(got, want) {
			t.Errorf("no %s in %s", want, got)
		}
	}
	if strings.Contains(got, "PIP_CERT="+CAFile) {
		t.Errorf("the caller's PIP_CERT was overridden: %s", got)
	}
}
