package ssh

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

// Sentinel errors of a connection; each is also wrapped with
// moat.ErrUnavailable, and `moat run` exits 125 on any of them.
var (
	ErrNotConfigured = errors.New("no host configured")
	ErrUnknownHost   = errors.New("unknown host key")
	ErrHostKeyChange = errors.New("host key changed")
	ErrAuth          = errors.New("login refused")
	ErrUnreachable   = errors.New("host unreachable")
)

// dialTimeout bounds the connection and the handshake.
const dialTimeout = 15 * time.Second

// conn is a connection to the host, with what was verified of it.
type conn struct {
	*ssh.Client
	hostKey string // "ssh-ed25519 SHA256:..." as verified
}

// dial connects to c's host and logs in with c's key. The host's key must
// be in c's known_hosts file: an unknown or a different key ends the
// connection before anything is sent. Every error is one line that says
// what to do, wrapping one of the sentinels above and moat.ErrUnavailable.
func dial(ctx context.Context, c Config) (*conn, error) {
	if c.Host == "" {
		return nil, fmt.Errorf("ssh: %w: set %s (or host in the [ssh] table of --policy): %w", ErrNotConfigured, EnvHost, moat.ErrUnavailable)
	}
	signer, err := loadKey(c.key())
	if err != nil {
		return nil, fmt.Errorf("ssh: %w: %w", err, moat.ErrUnavailable)
	}
	khFile := c.knownHosts()
	check, err := knownhosts.New(khFile)
	if err != nil {
		return nil, fmt.Errorf("ssh: known_hosts %s: %s (add the host's key after checking its fingerprint): %w: %w", khFile, termsafe.Line(errors.Unwrap(err).Error(), 200), ErrUnknownHost, moat.ErrUnavailable)
	}
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.port()))
	var keyErr error
	verified := ""
	cfg := &ssh.ClientConfig{
		User:              c.user(),
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyAlgorithms: knownAlgorithms(check, addr),
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if err := check(hostname, remote, key); err != nil {
				keyErr = err
				return err
			}
			verified = key.Type() + " " + fingerprint(key)
			return nil
		},
		Timeout: dialTimeout,
	}
	d := net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ssh: %s: %s: %w: %w", addr, termsafe.Line(dialReason(err), 200), ErrUnreachable, moat.ErrUnavailable)
	}
	_ = nc.SetDeadline(time.Now().Add(dialTimeout))
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	stop()
	if err != nil {
		nc.Close()
		return nil, classify(err, keyErr, c, addr, khFile)
	}
	_ = nc.SetDeadline(time.Time{})
	return &conn{Client: ssh.NewClient(sc, chans, reqs), hostKey: verified}, nil
}

// classify turns a failed handshake into one line.
func classify(err, keyErr error, c Config, addr, khFile string) error {
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(keyErr, &re):
		return fmt.Errorf("ssh: %s offers a revoked host key (%s): %w: %w", addr, fingerprint(re.Revoked.Key), ErrHostKeyChange, moat.ErrUnavailable)
	case errors.As(keyErr, &ke) && len(ke.Want) == 0:
		return fmt.Errorf("ssh: %s is not in %s: check its host key's fingerprint and add it (ssh-keyscan -p %d %s, or log in once with ssh): %w: %w",
			addr, khFile, c.port(), c.Host, ErrUnknownHost, moat.ErrUnavailable)
	case errors.As(keyErr, &ke):
		return fmt.Errorf("ssh: the host key of %s has CHANGED (%s has %s at line %d): someone may be intercepting the connection; if the host was reinstalled, replace that line: %w: %w",
			addr, khFile, fingerprint(ke.Want[0].Key), ke.Want[0].Line, ErrHostKeyChange, moat.ErrUnavailable)
	case keyErr != nil:
		return fmt.Errorf("ssh: %s: host key: %s: %w: %w", addr, termsafe.Line(keyErr.Error(), 200), ErrUnknownHost, moat.ErrUnavailable)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("ssh: %s: no SSH answer within %s: %w: %w", addr, dialTimeout, ErrUnreachable, moat.ErrUnavailable)
	}
	if msg := err.Error(); strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "no supported methods remain") {
		return fmt.Errorf("ssh: %s@%s refused the key %s: %w: %w", c.user(), addr, c.key(), ErrAuth, moat.ErrUnavailable)
	}
	return fmt.Errorf("ssh: %s: %s: %w: %w", addr, termsafe.Line(err.Error(), 200), ErrUnreachable, moat.ErrUnavailable)
}

// dialReason is why a TCP connection failed, without Go's "dial tcp".
func dialReason(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// knownAlgorithms lists the key types known_hosts holds for addr, so
// that the server is asked for a key that can be checked (a server with an
// ed25519 and an RSA key, known by one of them, must not offer the other
// and have it taken for a changed key). nil: let the library choose.
func knownAlgorithms(check ssh.HostKeyCallback, addr string) []string {
	var ke *knownhosts.KeyError
	err := check(addr, &net.TCPAddr{IP: net.IPv4zero}, probeKey{})
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	add := func(a string) {
		for _, x := range algos {
			if x == a {
				return
			}
		}
		algos = append(algos, a)
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
			add(t)
		default:
			add(t)
		}
	}
	return algos
}

// probeKey is a key that matches nothing, to learn what known_hosts holds.
type probeKey struct{}

func (probeKey) Type() string                        { return "moat-probe" }
func (probeKey) Marshal() []byte                     { return []byte("moat-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

// fingerprint is SHA256:base64 as OpenSSH prints it.
func fingerprint(k ssh.PublicKey) string {
	sum := sha256.Sum256(k.Marshal())
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// loadKey reads an unencrypted private key file.
func loadKey(path string) (ssh.Signer, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no key: set %s", ErrAuth, EnvKey)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, errors.Unwrap(err))
	}
	if fi.Size() > 64<<10 {
		return nil, fmt.Errorf("key %s: larger than 64KiB, not a private key", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	s, err := ssh.ParsePrivateKey(b)
	var pm *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &pm):
		return nil, fmt.Errorf("key %s is encrypted: give moat a key without a passphrase, for the test host only", path)
	case err != nil:
		return nil, fmt.Errorf("key %s: %s", path, termsafe.Line(err.Error(), 200))
	}
	return s, nil
}
