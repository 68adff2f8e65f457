package ssh

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/moat-sandbox/moat"
)

// The environment variables that configure the backend; the [ssh] table
// of a --policy file wins over them (see Configure).
const (
	EnvHost       = "MOAT_SSH_HOST"        // host name or address
	EnvUser       = "MOAT_SSH_USER"        // login; default: the local user's name
	EnvPort       = "MOAT_SSH_PORT"        // default 22
	EnvKey        = "MOAT_SSH_KEY"         // private key file (unencrypted); default ~/.ssh/id_ed25519, id_ecdsa, id_rsa
	EnvKnownHosts = "MOAT_SSH_KNOWN_HOSTS" // default ~/.ssh/known_hosts
	EnvReset      = "MOAT_SSH_RESET"       // command run by sh on the moat host after each run's wipe
	EnvDir        = "MOAT_SSH_DIR"         // remote directory for run directories; default /var/tmp
)

// Config says which host to run on and how to reach it.
type Config struct {
	Host       string `toml:"host"`
	User       string `toml:"user"`
	Port       int    `toml:"port"`
	Key        string `toml:"key"`
	KnownHosts string `toml:"known_hosts"`
	// Reset, if set, runs after every run's wipe, on the machine that runs
	// moat, with sh -c and MOAT_SSH_HOST set: e.g. revert the test VM to
	// its snapshot. A reset that fails fails the run.
	Reset string `toml:"reset"`
	// Dir holds the runs' directories on the host: an absolute path
	// outside /tmp, /dev/shm and the user's home (the run binds its own
	// over those).
	Dir string `toml:"dir"`
}

var (
	cfgMu      sync.Mutex
	configured Config
)

// Configure sets what the registered backend uses over the environment
// (fields left empty keep the environment's): the [ssh] table of a policy.
func Configure(c Config) {
	cfgMu.Lock()
	configured = c
	cfgMu.Unlock()
}

// FromEnv reads the configuration from the environment, with what
// Configure set winning.
func FromEnv() (Config, error) {
	c := Config{
		Host: os.Getenv(EnvHost), User: os.Getenv(EnvUser), Key: os.Getenv(EnvKey),
		KnownHosts: os.Getenv(EnvKnownHosts), Reset: os.Getenv(EnvReset), Dir: os.Getenv(EnvDir),
	}
	if p := os.Getenv(EnvPort); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return c, fmt.Errorf("ssh: %s=%q is not a port: %w", EnvPort, p, moat.ErrInvalidSpec)
		}
		c.Port = n
	}
	cfgMu.Lock()
	o := configured
	cfgMu.Unlock()
	for _, f := range []struct {
		dst *string
		v   string
	}{{&c.Host, o.Host}, {&c.User, o.User}, {&c.Key, o.Key},
		{&c.KnownHosts, o.KnownHosts}, {&c.Reset, o.Reset}, {&c.Dir, o.Dir}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if o.Port != 0 {
		c.Port = o.Port
	}
	return c, c.validate()
}

func (c Config) validate() error {
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("ssh: port %d: %w", c.Port, moat.ErrInvalidSpec)
	}
	if d := c.dir(); !safePath(d) || d == "/" {
		return fmt.Errorf("ssh: dir %q: want an absolute path of letters, digits and ._-/: %w", d, moat.ErrInvalidSpec)
	}
	for _, bad := range []string{"/tmp", "/dev/shm"} {
		if d := c.dir(); d == bad || len(d) > len(bad) && d[:len(bad)+1] == bad+"/" {
			return fmt.Errorf("ssh: dir %q: the run binds its own %s over the host's, so its directory must lie elsewhere: %w", d, bad, moat.ErrInvalidSpec)
		}
	}
	return nil
}

func (c Config) port() int {
	if c.Port == 0 {
		return 22
	}
	return c.Port
}

func (c Config) user() string {
	if c.User != "" {
		return c.User
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

func (c Config) dir() string {
	if c.Dir == "" {
		return "/var/tmp"
	}
	return filepath.Clean(c.Dir)
}

func home() string {
	h, _ := os.UserHomeDir()
	return h
}

func (c Config) key() string {
	if c.Key != "" {
		return c.Key
	}
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		p := filepath.Join(home(), ".ssh", n)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func (c Config) knownHosts() string {
	if c.KnownHosts != "" {
		return c.KnownHosts
	}
	return filepath.Join(home(), ".ssh", "known_hosts")
}
