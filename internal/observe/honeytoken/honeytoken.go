// Package honeytoken makes the fake secrets that moat plants in every
// sandbox, and finds them again, raw or encoded, in what a run sends or
// writes.
//
// Each run gets fresh random values: an AWS key pair in ~/.aws/credentials,
// an SSH private key in ~/.ssh/id_rsa, a PyPI token in ~/.pypirc, a
// password in ~/.netrc, GITHUB_TOKEN and AWS_SECRET_ACCESS_KEY in the
// environment, and what stealers look for beyond those (bait.go):
// ~/.git-credentials, ~/.kube/config, ~/.docker/config.json, gcloud's
// application_default_credentials.json, Azure's msal_token_cache.json and
// accessTokens.json, Chrome's Login Data, Firefox's logins.json, Telegram's
// tdata, Discord's LevelDB, Electrum's and Exodus's wallets and
// ~/.bash_history. [Metadata] is what the network sink serves as a cloud
// instance's credentials. None of them is valid anywhere: they are bait. A program
// that reads them is looking for credentials; a program whose traffic,
// DNS names, output or files contain one of them, in any encoding a
// [Matcher] undoes, is exfiltrating.
//
// Values have the shapes of real ones, with parts (region, netrc host and
// login) varied per run, and are long enough (16+ characters of
// randomness) that a match is never a coincidence.
package honeytoken

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strings"
)

// Token is one planted fake secret.
type Token struct {
	ID    string `json:"id"`             // e.g. "aws-secret-key"
	Value string `json:"value"`          // the random part to look for
	Path  string `json:"path,omitempty"` // file it is planted in, inside the sandbox
	Env   string `json:"env,omitempty"`  // environment variable holding it
	// Host is the one host the secret is for, where its file says so
	// (netrc's machine): a library that sends it there as the file
	// directs (requests' netrc auth) is not stealing it.
	Host string `json:"host,omitempty"`
}

// Set is what one run plants.
type Set struct {
	Tokens []Token `json:"tokens"`
	// Files maps a path inside the sandbox to its content.
	Files map[string]string `json:"files"`
	// Env holds KEY=VALUE pairs for the program's environment.
	Env []string `json:"env"`
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// tellWords are words a program looking for a sandbox greps for; a random
// value that happens to spell one (any case) is drawn again.
var tellWords = []string{"moat", "sandbox", "honey", "canary", "bait", "fake", "dummy", "example", "xxxx"}

// random draws n characters of alphabet uniformly (no modulo bias), never
// spelling one of tellWords.
func (d drawer) random(n int, alphabet string) string {
	limit := 256 - 256%len(alphabet)
	for {
		b := make([]byte, 0, n)
		var buf [64]byte
		for len(b) < n {
			_, _ = io.ReadFull(d.r, buf[:])
			for _, c := range buf {
				if int(c) < limit && len(b) < n {
					b = append(b, alphabet[int(c)%len(alphabet)])
				}
			}
		}
		if !hasTellWord(string(b)) {
			return string(b)
		}
	}
}

func hasTellWord(s string) bool {
	l := strings.ToLower(s)
	for _, w := range tellWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// Parts that vary from run to run, so that no fixed shape marks moat's
// files.
var (
	regions    = []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"}
	netrcHosts = []string{"github.com", "gitlab.com", "bitbucket.org", "api.heroku.com", "git.brightloop.io", "git.tallyworks.com"}
	// orgDomains are the employer's domain in the bait (browser logins,
	// the self-hosted GitLab in the shell history): never example.com,
	// which no real machine's secrets name.
	orgDomains = []string{"brightloop.io", "tallyworks.com", "northpeak.dev", "kestrelhq.com", "orbitly.net", "quillstack.io", "fernhill.co", "lumenware.com"}
	logins     = []string{"ci-bot", "deploy", "build-user", "release-bot", "svc-ci", "jenkins"}
)

func (d drawer) pick(s []string) string {
	b := make([]byte, 1)
	_, _ = io.ReadFull(d.r, b)
	return s[int(b[0])%len(s)]
}

// New plants a fresh set under home. A set whose files spell a word of
// tellWords anywhere (a random value can make one with the fixed text
// beside it: "ECB" then "ait...") is drawn again whole, a bounded number
// of times (the fixed text spells none: TestSetSpellsNoTell).
func New(home string) *Set { return NewFor(home, "") }

// NewFor is New drawn from key: the same key and home, the same set (the
// phases of one `moat test` find one machine's secrets, and a secret one
// phase read is known to the next's analysis); "" draws a fresh one. The
// key is moat's secret: the values stay unpredictable to the program.
func NewFor(home, key string) *Set {
	d := drawer{rand.Reader}
	if key != "" {
		d.r = mrand.NewChaCha8(sha256.Sum256([]byte("moat honeytokens\x00" + key)))
	}
	s := newSet(home, d)
	for i := 0; i < 64 && s.spellsTell(); i++ {
		s = newSet(home, d)
	}
	return s
}

// A drawer is where a set's random choices come from.
type drawer struct{ r io.Reader }

// fresh draws from crypto/rand.
var fresh = drawer{rand.Reader}

func random(n int, alphabet string) string { return fresh.random(n, alphabet) }

func (s *Set) spellsTell() bool {
	for _, c := range s.Files {
		if hasTellWord(c) {
			return true
		}
	}
	return false
}

// newSet makes a fresh set for a sandbox whose home directory is home.
func newSet(home string, d drawer) *Set {
	upper := "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	keyID := "AKIA" + d.random(16, upper)
	// As real ones: AWS secrets are base64 (+ and / too), PyPI tokens a
	// macaroon's URL-safe base64, an OpenSSH key's lines 70 characters.
	b64 := alnum + "+/"
	secret := d.random(40, b64)
	ghToken := "ghp_" + d.random(36, alnum)
	envSecret := d.random(40, b64)
	pypi := "pypi-AgEIcHlwaS5vcmc" + d.random(60, alnum+"-_")
	netrc := d.random(24, alnum)
	sshBody := d.random(70, alnum)

	var key strings.Builder
	key.WriteString("-----BEGIN OPENSSH PRIVATE KEY-----\n")
	key.WriteString("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABlwAAAAdzc2gtcn\n")
	key.WriteString(sshBody + "\n")
	// The key's body is random bytes in base64, drawn again while it spells
	// a word a careful program greps for (as random does).
	blob, enc := make([]byte, 480), ""
	for enc == "" || hasTellWord(enc) {
		_, _ = io.ReadFull(d.r, blob)
		enc = base64.StdEncoding.EncodeToString(blob)
	}
	for len(enc) > 70 {
		key.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	key.WriteString(enc + "\n-----END OPENSSH PRIVATE KEY-----\n")

	s := &Set{Files: map[string]string{}}
	add := func(id, value, path, env string) {
		s.Tokens = append(s.Tokens, Token{ID: id, Value: value, Path: path, Env: env})
	}
	aws := home + "/.aws/credentials"
	s.Files[aws] = fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n", keyID, secret, d.pick(regions))
	add("aws-access-key-id", keyID, aws, "")
	add("aws-secret-access-key", secret, aws, "")
	ssh := home + "/.ssh/id_rsa"
	s.Files[ssh] = key.String()
	add("ssh-private-key", sshBody, ssh, "")
	pypirc := home + "/.pypirc"
	s.Files[pypirc] = fmt.Sprintf("[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\npassword = %s\n", pypi)
	add("pypi-token", pypi, pypirc, "")
	netrcPath := home + "/.netrc"
	netrcHost := d.pick(netrcHosts)
	s.Files[netrcPath] = fmt.Sprintf("machine %s\n  login %s\n  password %s\n", netrcHost, d.pick(logins), netrc)
	add("netrc-password", netrc, netrcPath, "")
	s.Tokens[len(s.Tokens)-1].Host = netrcHost
	s.Env = []string{"GITHUB_TOKEN=" + ghToken, "AWS_SECRET_ACCESS_KEY=" + envSecret}
	add("env-github-token", ghToken, "", "GITHUB_TOKEN")
	add("env-aws-secret-access-key", envSecret, "", "AWS_SECRET_ACCESS_KEY")
	s.addBait(home, d)
	return s
}
