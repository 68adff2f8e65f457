package gvisor

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestInitEarly: moat's init in the Sentry (package sentryinit) starts
// before the heavy packages this binary links are initialized (net/http,
// crypto/tls, regexp, Docker's client, moat's report): each page of their
// code and data that initialization touches faults in through the Sentry
// in every run before the program starts (sentryinit's doc). Read from
// the runtime's own trace of this test binary's initialization.
func TestInitEarly(t *testing.T) {
	if os.Getenv("MOAT_TEST_INIT_ORDER") != "" {
		return // the child: its trace is what the parent reads
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInitEarly$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1", "MOAT_TEST_INIT_ORDER=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	order := map[string]int{}
	for i, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "init" {
			if _, ok := order[f[1]]; !ok {
				order[f[1]] = i
			}
		}
	}
	const initPkg = "github.com/moat-sandbox/moat/backend/gvisor/sentryinit"
	at, ok := order[initPkg]
	if !ok {
		t.Fatalf("no init of %s in the trace:\n%s", initPkg, out)
	}
	for _, heavy := range []string{"net/http", "crypto/tls", "regexp", "github.com/docker/docker/client", "github.com/moat-sandbox/moat/report"} {
		h, ok := order[heavy]
		if !ok {
			t.Errorf("no init of %s in the trace (no longer linked? name another)", heavy)
			continue
		}
		if h < at {
			t.Errorf("%s is initialized before the init (%s), which waits for it", heavy, initPkg)
		}
	}
}
