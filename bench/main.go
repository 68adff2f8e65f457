// Command bench times moat's native sandbox side by side with its peers:
// bare Python and bubblewrap doing the same trivial run. It prints the
// median and the ratio to bare Python of each. Run it through bench/run,
// which builds moat and installs bubblewrap.
//
//	go run ./bench -moat ./moat -python /usr/bin/python3 -n 50
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type peer struct {
	name string
	argv []string
	base string // the bare run this one is compared with
}

func main() {
	moat := flag.String("moat", "./moat", "moat binary")
	python := flag.String("python", "/usr/bin/python3", "real interpreter (not a shim)")
	n := flag.Int("n", 50, "runs per command")
	flag.Parse()
	py, err := filepath.EvalSymlinks(*python)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	peers := []peer{
		{"bare python -I -S", []string{py, "-I", "-S", "-c", "pass"}, ""},
		{"bare python", []string{py, "-c", "pass"}, ""},
		{"moat native", []string{*moat, "run", "--isolation", "native", "--python", py, "-c", "pass"}, "bare python"},
	}
	if bw, err := exec.LookPath("bwrap"); err == nil {
		args := []string{bw, "--unshare-all", "--die-with-parent", "--new-session",
			"--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"}
		for _, l := range []string{"lib", "lib64", "bin", "sbin"} {
			if t, err := os.Readlink("/" + l); err == nil {
				args = append(args, "--symlink", t, "/"+l)
			}
		}
		peers = append(peers,
			peer{"bwrap python -I -S", append(append([]string{}, args...), py, "-I", "-S", "-c", "pass"), "bare python -I -S"},
			peer{"bwrap python", append(append([]string{}, args...), py, "-c", "pass"), "bare python"})
	} else {
		fmt.Fprintln(os.Stderr, "bench: bwrap not found (apt-get install bubblewrap); skipping it")
	}
	if rs, err := exec.LookPath("runsc"); err == nil && os.Geteuid() == 0 {
		// gVisor beside bare runsc on the same platform: `runsc do` runs
		// the same interpreter in a sandbox over the host's root.
		plat := "ptrace"
		if out, _ := exec.Command(rs, "help", "platforms").Output(); strings.Contains("\n"+string(out), "\nsystrap\n") {
			plat = "systrap"
		}
		root, err := os.MkdirTemp("", "bench-runsc-")
		if err == nil {
			defer os.RemoveAll(root)
			peers = append(peers,
				peer{"runsc do python", []string{rs, "--root", root, "--network=none", "--platform=" + plat, "do", py, "-c", "pass"}, ""},
				peer{"moat gvisor", []string{*moat, "run", "--isolation", "gvisor", "--python", py, "-c", "pass"}, "runsc do python"})
		}
	} else {
		fmt.Fprintln(os.Stderr, "bench: runsc not found or not root; skipping gvisor")
	}
	med, err := medians(peers, *n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Printf("%-22s %10s %12s %s\n", "command", "median", "overhead", "ratio")
	for _, p := range peers {
		d := med[p.name]
		base := p.base
		if base == "" {
			base = "bare python -I -S"
		}
		b := med[base]
		fmt.Printf("%-22s %8.2fms %+10.2fms %6.2fx of %s\n", p.name, ms(d), ms(d-b), float64(d)/float64(b), base)
	}
	if b := med["bare python -I -S"]; b > 0 {
		fmt.Printf("\nmoat native vs bare python -I -S: %+.2fms (%.2fx)\n", ms(med["moat native"]-b), float64(med["moat native"])/float64(b))
	}
	if rd, ok := med["runsc do python"]; ok {
		fmt.Printf("moat gvisor vs runsc do: %+.2fms (%.2fx)\n", ms(med["moat gvisor"]-rd), float64(med["moat gvisor"])/float64(rd))
	}
	if bw, ok := med["bwrap python"]; ok {
		fmt.Printf("moat native vs bwrap (same python flags): %+.2fms (%.2fx)\n", ms(med["moat native"]-bw), float64(med["moat native"])/float64(bw))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// medians runs every peer n times (after two warm-up rounds), round
// robin, so that a noisy moment of the machine falls on all of them alike,
// and returns each one's median wall time. A failing run fails the
// benchmark: timing a failure is a lie.
func medians(peers []peer, n int) (map[string]time.Duration, error) {
	ds := map[string][]time.Duration{}
	for i := 0; i < n+2; i++ {
		for _, p := range peers {
			cmd := exec.Command(p.argv[0], p.argv[1:]...)
			var errb strings.Builder
			cmd.Stderr = &errb
			t := time.Now()
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("%s: %v: %s", p.name, err, strings.TrimSpace(errb.String()))
			}
			if i >= 2 {
				ds[p.name] = append(ds[p.name], time.Since(t))
			}
		}
	}
	med := map[string]time.Duration{}
	for name, d := range ds {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		med[name] = d[len(d)/2]
	}
	return med, nil
}
