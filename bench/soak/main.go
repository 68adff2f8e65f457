// Command soak runs thousands of moat runs through the backend registry,
// in this process, as `moat run` does: a mixed workload of successes,
// failures, timeouts, memory breaches, cancels and output caps, each run's
// status checked against the one its kind may have. It prints runs per
// second per phase and then checks that nothing leaked: processes (this
// process's children, and any process carrying the soak's marker),
// moat's cgroups, mounts, files (under a private TMPDIR that is also the
// working directory), gVisor's bundles and sandboxes, containers and
// volumes of moat's, and that this process's descriptors and goroutines
// came back to where they were after each phase's warm-up.
//
//	go run ./bench/soak                      # the full plan
//	go run ./bench/soak -phases native:200:4 # a smaller one
//
// It exits 1 on a wrong result or a leak. The same code runs, smaller, as
// TestSoak. What is new after the soak and stays past -grace is reported;
// other programs' runs are told apart where they can be (see things).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/moat-sandbox/moat"
	_ "github.com/moat-sandbox/moat/backend/all"
	"github.com/moat-sandbox/moat/backend/native"
)

// FullPlan is issue 10's: native 2,000 in a row and 2,000 at concurrency
// 8; each container backend 200 at concurrency 4.
const FullPlan = "native:2000:1,native:2000:8,docker:200:4,podman:200:4,gvisor:200:4"

func main() {
	native.Init() // the sandbox init re-executes this binary
	phases := flag.String("phases", FullPlan, "BACKEND:RUNS:CONCURRENCY,... to run in order")
	python := flag.String("python", "", "host interpreter for native and gvisor (default: python3 on PATH)")
	image := flag.String("image", os.Getenv("MOAT_TEST_IMAGE"), "image for the container backends (default: theirs; MOAT_TEST_IMAGE)")
	grace := flag.Duration("grace", 30*time.Second, "how long something new may take to go before it counts as leaked")
	flag.Parse()
	ps, err := ParsePhases(*phases)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := soak(ctx, ps, Config{Python: *python, Image: *image}, *grace); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func soak(ctx context.Context, ps []Phase, cfg Config, grace time.Duration) error {
	tmp, err := os.MkdirTemp("", "soak-tmp-")
	if err != nil {
		return fmt.Errorf("private tmp: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o1777); err != nil {
		return fmt.Errorf("private tmp: %w", err)
	}
	os.Setenv("TMPDIR", tmp) // moat's own temporary files land here
	// and whatever a run leaves in its caller's working directory.
	if err := os.Chdir(tmp); err != nil {
		return fmt.Errorf("private tmp: %w", err)
	}
	cfg.Marker = fmt.Sprintf("moat-soak-%d-%d", os.Getpid(), time.Now().UnixNano())
	before := things(tmp, cfg.Marker)
	fmt.Printf("soak: marker %s; %d things of moat's on the host before\n", cfg.Marker, len(before))
	var bad []string
	for _, p := range ps {
		b, err := moat.Get(p.Backend)
		if err == nil {
			err = moat.Check(ctx, b)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p.Backend, err)
		}
		r := RunPhase(ctx, b, p, cfg)
		fmt.Printf("\n%s: %.1f runs/s (%d runs in %s)\n", p, r.RunsPerSecond(), r.Runs, r.Wall.Round(time.Millisecond))
		keys := make([]string, 0, len(r.Statuses))
		for k := range r.Statuses {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("  %-28s %5d\n", k, r.Statuses[k])
		}
		var avg []string
		for _, k := range kinds {
			if n := r.Count[k.name]; n > 0 {
				avg = append(avg, fmt.Sprintf("%s %dms", k.name, (r.Time[k.name]/time.Duration(n)).Milliseconds()))
			}
		}
		fmt.Printf("  mean run: %s\n", strings.Join(avg, ", "))
		fmt.Printf("  descriptors %d / %d / %d, goroutines %d / %d / %d (after warm-up / half-way / end)\n",
			r.FDs[0], r.FDs[1], r.FDs[2], r.Goroutines[0], r.Goroutines[1], r.Goroutines[2])
		for i, w := range r.Wrong {
			if i == 20 {
				fmt.Printf("  ... %d more\n", len(r.Wrong)-i)
				break
			}
			fmt.Println("  WRONG", w)
		}
		if len(r.Wrong) > 0 {
			bad = append(bad, fmt.Sprintf("%s: %d of %d results wrong", p, len(r.Wrong), r.Runs))
		}
		if err := r.Flat(2); err != nil {
			bad = append(bad, "not flat: "+err.Error())
		}
		if err := CheckVolume(p.Backend); err != nil {
			bad = append(bad, err.Error())
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	left := Leaks(before, tmp, cfg.Marker, grace)
	fmt.Printf("\nleft behind after %s of grace: %d\n", grace, len(left))
	for _, l := range left {
		fmt.Println("  LEAK", l)
	}
	if len(left) > 0 {
		bad = append(bad, fmt.Sprintf("%d things left behind", len(left)))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	fmt.Println("soak: every result right, nothing left behind")
	return nil
}
