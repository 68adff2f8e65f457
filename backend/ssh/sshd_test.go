//go:build linux

package ssh_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/moat-sandbox/moat/backend/ssh"
	"github.com/moat-sandbox/moat/moattest"
)

// testUser is the ordinary user the tests log in as (.ci/setup-ssh.sh
// makes it).
const testUser = "moatssh"

// sshd is a real OpenSSH server the test started on loopback, with its
// own host key and authorized keys, and what a client needs to reach it.
type sshd struct {
	Dir        string
	Port       int
	HostPub    gossh.PublicKey
	Key        string // the client's private key file
	KnownHosts string // holds HostPub for the server
}

// writeKey writes a fresh ed25519 private key in OpenSSH's format and
// returns its public key.
func writeKey(t *testing.T, path string) gossh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startSSHD starts /usr/sbin/sshd on 127.0.0.1 at a free port, or skips
// (fails when MOAT_REQUIRE_BACKENDS names ssh) when it cannot.
func startSSHD(t *testing.T) *sshd {
	t.Helper()
	skip := func(why string, args ...any) {
		t.Helper()
		if moattest.Required("ssh") {
			t.Fatalf("backend ssh is required (%s) but: "+why, append([]any{moattest.RequireEnv}, args...)...)
		}
		t.Skipf("ssh: "+why, args...)
	}
	if os.Geteuid() != 0 {
		skip("the test starts sshd, which needs root")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		skip("no /usr/sbin/sshd (apt-get install openssh-server; .ci/setup-ssh.sh)")
	}
	if _, err := user.Lookup(testUser); err != nil {
		skip("no user %s (.ci/setup-ssh.sh makes it)", testUser)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "moat-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &sshd{Dir: dir, Key: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}
	s.HostPub = writeKey(t, filepath.Join(dir, "host_key"))
	clientPub := writeKey(t, s.Key)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), gossh.MarshalAuthorizedKey(clientPub), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host_key
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers %s
MaxStartups 100
MaxSessions 100
LogLevel ERROR
`, s.Port, dir, dir, dir, testUser)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)))}, s.HostPub)
	if err := os.WriteFile(s.KnownHosts, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	var logs bytes.Buffer // read only once sshd has exited
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// Ready when it accepts (polling, not a timing assertion).
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)))
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("sshd exited at start: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not accept on port %d: %v", s.Port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// config is a Config for the server.
func (s *sshd) config() ssh.Config {
	return ssh.Config{Host: "127.0.0.1", Port: s.Port, User: testUser, Key: s.Key, KnownHosts: s.KnownHosts}
}

func itoa(n int) string { return strconv.Itoa(n) }

func marshal(k gossh.PublicKey) []byte { return gossh.MarshalAuthorizedKey(k) }

// runsDir makes a directory for run directories that the test user can
// write, outside /tmp (which a run binds its own over).
func runsDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/var/tmp", "moat-ssh-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o1777); err != nil {
		t.Fatal(err)
	}
	return d
}
