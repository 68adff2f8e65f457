package honeytoken

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"strings"
)

// The files that real stealers go for, beyond the developer's classics:
// git, container and cloud CLIs, browser profiles, chat apps, wallets and
// the shell history. Each holds one fresh value (a Token whose Path is the
// file), in the shape the genuine file has, so a stealer that parses it
// finds what it looks for. The contents are text: the files that are
// databases in real life (Chrome's "Login Data", Telegram's key_datas)
// start with the right magic, and are bait, not working databases.

const (
	b58    = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	hexLow = "0123456789abcdef"
)

// addBait plants the stealers' targets under home.
func (s *Set) addBait(home string, d drawer) {
	org := d.pick(orgDomains) // the employer of this machine's user
	// An ordinary home has the shell's startup files (no secret in them):
	// a payload that edits ~/.bashrc must find one to edit.
	s.Files[home+"/.bashrc"] = bashrc
	s.Files[home+"/.profile"] = profile
	file := func(rel, id, value, content string) {
		p := home + "/" + rel
		s.Files[p] = content
		s.Tokens = append(s.Tokens, Token{ID: id, Value: value, Path: p})
	}
	// git's credential store: one URL with the password in it.
	gitPass := "ghp_" + d.random(36, alnum)
	file(".git-credentials", "git-credentials", gitPass, "https://deploy-bot:"+gitPass+"@github.com\n")

	kube := d.random(40, alnum)
	file(".kube/config", "kube-token", kube, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: %s
    server: https://10.20.0.1:6443
  name: prod
contexts:
- context:
    cluster: prod
    user: deployer
  name: prod
current-context: prod
users:
- name: deployer
  user:
    token: %s
`, base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\n"+d.random(64, alnum)+"\n")), kube))

	dockerPass := d.random(32, alnum)
	auth := base64.StdEncoding.EncodeToString([]byte("deploy-bot:" + dockerPass))
	file(".docker/config.json", "docker-auth", dockerPass,
		`{"auths":{"https://index.docker.io/v1/":{"auth":"`+auth+`"},"ghcr.io":{"auth":"`+auth+`"}}}`+"\n")

	gRefresh := d.random(40, alnum)
	file(".config/gcloud/application_default_credentials.json", "gcloud-refresh-token", gRefresh, fmt.Sprintf(`{
  "client_id": "764086051850-%s.apps.googleusercontent.com",
  "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
  "refresh_token": "1//0%s",
  "type": "authorized_user"
}
`, d.random(32, "abcdefghijklmnopqrstuvwxyz0123456789"), gRefresh))

	azRefresh := "0.A" + d.random(60, alnum)
	file(".azure/msal_token_cache.json", "azure-refresh-token", azRefresh, fmt.Sprintf(`{"RefreshToken": {"%s.login.microsoftonline.com-refreshtoken-04b07795-8ddb-461a-bbee-02f9e1bf7b46--": {"credential_type": "RefreshToken", "secret": "%s", "home_account_id": "%s", "environment": "login.microsoftonline.com", "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46"}}}
`, d.uuid(), azRefresh, d.uuid()))
	azAccess := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9" + d.random(48, alnum)
	file(".azure/accessTokens.json", "azure-access-token", azAccess, fmt.Sprintf(`[{"tokenType": "Bearer", "expiresIn": 3599, "resource": "https://management.core.windows.net/", "accessToken": "%s", "_clientId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "_authority": "https://login.microsoftonline.com/common"}]
`, azAccess))

	// Browsers: Chrome's saved logins (an SQLite file in life) and
	// Firefox's, found through profiles.ini.
	chrome := d.random(24, alnum)
	file(".config/google-chrome/Default/Login Data", "chrome-login-data", chrome,
		"SQLite format 3\x00"+strings.Repeat("\x01", 16)+"https://accounts."+org+"/login\x00admin\x00v10"+chrome+"\x00\n")
	profile := d.random(8, "abcdefghijklmnopqrstuvwxyz0123456789") + ".default-release"
	s.Files[home+"/.mozilla/firefox/profiles.ini"] = "[Profile0]\nName=default-release\nIsRelative=1\nPath=" + profile + "\nDefault=1\n\n[General]\nStartWithLastProfile=1\nVersion=2\n"
	ffPass := d.random(32, alnum)
	file(".mozilla/firefox/"+profile+"/logins.json", "firefox-logins", ffPass, fmt.Sprintf(`{"nextId":2,"logins":[{"id":1,"hostname":"https://accounts.%s","httpRealm":null,"formSubmitURL":"https://accounts.%s","usernameField":"user","passwordField":"pass","encryptedUsername":"MDIEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECA%s","encryptedPassword":"MEIEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECB%s","guid":"{%s}","encType":1,"timesUsed":3}],"version":3}
`, org, org, d.random(16, alnum), ffPass, d.uuid()))

	// Telegram Desktop's session directory.
	tg := d.random(32, alnum)
	file(".local/share/TelegramDesktop/tdata/key_datas", "telegram-tdata", tg, "TDF$\x00\x00\x00\x00"+tg+"\n")

	// Discord keeps its token in LevelDB files that stealers grep.
	dToken := base64.RawStdEncoding.EncodeToString([]byte(d.random(18, "0123456789"))) + "." + d.random(6, alnum) + "."
	dSecret := d.random(27, alnum)
	file(".config/discord/Local Storage/leveldb/000005.ldb", "discord-token", dSecret,
		"\x00\x00_https://discord.com\x00\x01token\x01\""+dToken+dSecret+"\"\n")

	// Wallets: Electrum's default wallet, Exodus's seed.
	xprv := "xprv9s21ZrQH143K" + d.random(95, b58)
	file(".electrum/wallets/default_wallet", "electrum-wallet", xprv, fmt.Sprintf(`{
    "keystore": {
        "type": "bip32",
        "xprv": "%s",
        "xpub": "xpub661MyMwAqRbc%s"
    },
    "seed_version": 18,
    "wallet_type": "standard"
}
`, xprv, d.random(95, b58)))
	seco := d.random(48, alnum)
	file(".config/Exodus/exodus.wallet/seed.seco", "exodus-seed", seco, "SECO\x00\x00\x00\x01"+seco+"\n")

	// The shell history, with a token typed on a command line.
	hist := "glpat-" + d.random(20, alnum)
	file(".bash_history", "shell-history-token", hist, strings.Join([]string{
		"cd ~/src/api", "git pull", "make test",
		"export GITLAB_TOKEN=" + hist,
		"curl -H \"PRIVATE-TOKEN: " + hist + "\" https://gitlab." + org + "/api/v4/projects",
		"ssh deploy@10.20.0.15", "ls", ""}, "\n"))
}

func uuid() string { return fresh.uuid() }

func (d drawer) uuid() string {
	r := d.random(32, hexLow)
	return r[:8] + "-" + r[8:12] + "-4" + r[13:16] + "-a" + r[17:20] + "-" + r[20:]
}

// Metadata is what moat's network sink serves as a cloud instance's
// metadata service (169.254.169.254, metadata.google.internal): fake
// credentials of an instance role, each also a Token.
type Metadata struct {
	Role            string `json:"role"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"session_token"`
	GCPToken        string `json:"gcp_token"`
	// AzureToken is the managed identity's access token (a JWT's shape);
	// AzureClientID its client id; ProfileID the AWS instance profile's id
	// and InstanceID the instance's.
	AzureToken    string `json:"azure_token"`
	AzureClientID string `json:"azure_client_id"`
	ProfileID     string `json:"profile_id"`
	InstanceID    string `json:"instance_id"`
}

// Metadata URLs, for the Tokens' Path: where the value is served.
const (
	AWSCredentialsURL = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
	GCPTokenURL       = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
	AzureTokenURL     = "http://169.254.169.254/metadata/identity/oauth2/token"
)

// NewMetadata makes fresh instance credentials.
func NewMetadata() *Metadata { return NewMetadataFor("") }

// NewMetadataFor is NewMetadata drawn from key (a run's
// [moat.Spec.PersonaKey]; "" draws fresh ones): the runs given one key
// are one instance, served one set of credentials, so a value read in
// one phase of `moat test` and sent in another is still a honeytoken of
// the run that sends it. The stream is apart from [NewFor]'s (its own
// label), so neither set tells the other.
func NewMetadataFor(key string) *Metadata {
	d := fresh
	if key != "" {
		d = drawer{mrand.NewChaCha8(sha256.Sum256([]byte("moat metadata\x00" + key)))}
	}
	return &Metadata{
		Role:            "ec2-app-role",
		AccessKeyID:     "ASIA" + d.random(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		SecretAccessKey: d.random(40, alnum),
		SessionToken:    "IQoJb3JpZ2luX2VjE" + d.random(120, alnum),
		GCPToken:        "ya29.c." + d.random(100, alnum),
		// A JWT: header {"typ":"JWT","alg":"RS256","x5t":...}, payload, signature.
		AzureToken:    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6I" + d.random(40, alnum) + ".eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tLyIs" + d.random(300, alnum) + "." + d.random(342, alnum+"-_"),
		AzureClientID: d.uuid(),
		ProfileID:     "AIPA" + d.random(17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		InstanceID:    "i-0" + d.random(16, hexLow),
	}
}

// Tokens lists m's values as Tokens, their Path the URL that serves them.
func (m *Metadata) Tokens() []Token {
	aws := AWSCredentialsURL + m.Role
	return []Token{
		{ID: "imds-aws-access-key-id", Value: m.AccessKeyID, Path: aws},
		{ID: "imds-aws-secret-access-key", Value: m.SecretAccessKey, Path: aws},
		{ID: "imds-aws-session-token", Value: m.SessionToken[len(m.SessionToken)-60:], Path: aws},
		{ID: "gcp-metadata-token", Value: m.GCPToken[len("ya29.c."):], Path: GCPTokenURL},
		{ID: "azure-metadata-token", Value: m.AzureToken[len(m.AzureToken)-80:], Path: AzureTokenURL},
	}
}

// bashrc and profile are a home's startup files, as Debian's skeleton
// has them, shortened.
const (
	bashrc = `# ~/.bashrc: executed by bash(1) for non-login shells.

# If not running interactively, don't do anything
case $- in
    *i*) ;;
      *) return;;
esac

HISTCONTROL=ignoreboth
shopt -s histappend
HISTSIZE=1000
HISTFILESIZE=2000
shopt -s checkwinsize

if [ -x /usr/bin/dircolors ]; then
    test -r ~/.dircolors && eval "$(dircolors -b ~/.dircolors)" || eval "$(dircolors -b)"
    alias ls='ls --color=auto'
    alias grep='grep --color=auto'
fi

alias ll='ls -alF'
alias la='ls -A'
alias l='ls -CF'

if [ -f ~/.bash_aliases ]; then
    . ~/.bash_aliases
fi

export PATH="$HOME/.local/bin:$PATH"
`
	profile = `# ~/.profile: executed by the command interpreter for login shells.

if [ -n "$BASH_VERSION" ]; then
    if [ -f "$HOME/.bashrc" ]; then
	. "$HOME/.bashrc"
    fi
fi

if [ -d "$HOME/bin" ] ; then
    PATH="$HOME/bin:$PATH"
fi

if [ -d "$HOME/.local/bin" ] ; then
    PATH="$HOME/.local/bin:$PATH"
fi
`
)
