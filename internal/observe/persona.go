package observe

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// Persona is what the sandbox looks like from inside, so that a program
// checking for a sandbox finds an ordinary developer machine or CI
// runner, a different one each run: the host name, the user and their
// home, pid 1's name. Nothing in it says moat or sandbox.
type Persona struct {
	Host  string // host name (uname, /etc/hostname, /etc/hosts)
	User  string // user name (USER, LOGNAME, /etc/passwd)
	Gecos string // the user's full name in /etc/passwd
	Home  string // home directory, /home/USER
	Init  string // pid 1's command name (argv[0], comm)
}

// The pools a persona is drawn from.
var (
	devUsers  = []string{"alex", "sam", "jordan", "taylor", "chris", "dana", "kim", "lee", "max", "robin", "jamie", "pat"}
	devGecos  = []string{"Alex Miller", "Sam Carter", "Jordan Lee", "Taylor Brooks", "Chris Novak", "Dana Weiss", "Kim Park", "Lee Chen", "Max Berg", "Robin Hall", "Jamie Cole", "Pat Young"}
	devHosts  = []string{"%s-laptop", "%s-thinkpad", "%s-xps", "%s-desktop", "%s-dev", "%s-workstation"}
	ciUsers   = []string{"runner", "builder", "ci", "gitlab-runner", "jenkins", "buildkite-agent", "circleci"}
	devInits  = []string{"/sbin/init", "/lib/systemd/systemd"}
	ciInits   = []string{"/bin/sh", "bash", "/usr/bin/dumb-init", "/sbin/tini", "/bin/bash"}
	hexDigits = "0123456789abcdef"
)

func pick[T any](s []T) T {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(s))))
	return s[n.Int64()]
}

func randomHex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = pick([]byte(hexDigits))
	}
	return string(b)
}

// NewPersona draws a fresh persona: half the time a developer's laptop,
// half a CI runner (a container-style host name of 12 hex digits, or a
// cloud one).
func NewPersona() Persona {
	if pick([]bool{true, false}) {
		i, _ := rand.Int(rand.Reader, big.NewInt(int64(len(devUsers))))
		u := devUsers[i.Int64()]
		return Persona{Host: fmt.Sprintf(pick(devHosts), u), User: u, Gecos: devGecos[i.Int64()] + ",,,", Home: "/home/" + u, Init: pick(devInits)}
	}
	u := pick(ciUsers)
	host := randomHex(12)
	if pick([]bool{true, false}) {
		n, _ := rand.Int(rand.Reader, big.NewInt(250))
		m, _ := rand.Int(rand.Reader, big.NewInt(250))
		host = fmt.Sprintf("ip-10-%d-%d-%d", pick([]int{0, 1, 2, 3, 16, 32}), n.Int64()+1, m.Int64()+1)
	}
	return Persona{Host: host, User: u, Gecos: u, Home: "/home/" + u, Init: pick(ciInits)}
}
