//go:build linux

// Command zygote times the native zygote's children without the server:
// how long a child takes to be made (Prepare), to run print(1) (Run) and
// to be torn down (Tidied), one after another; then how many children
// -w workers make and run per second, each made, run and torn down.
//
//	go run ./bench/zygote -n 50 -w 2 -d 5s
//
// With -floors 200 (as root), instead: what a child costs the machine
// one layer at a time (a bare fork of the zygote's interpreter, a
// second fork, each namespace, the cgroup, the mounts, Landlock and
// seccomp), with none of moat's work, beside moat's whole child.
//
// With -ready 100ms, each of the -n children waits that long between
// its Prepare and its run, as a warm pool's would: its run print(1) is
// then a warm run's time, not the making's rest.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/native"
)

func main() {
	n := flag.Int("n", 50, "children made, run and torn down one after another")
	w := flag.Int("w", 2, "workers at once for the rate")
	dur := flag.Duration("d", 5*time.Second, "length of the rate measurement")
	flag.DurationVar(&ready, "ready", 0, "wait between a child's Prepare and its run in the -n part, as a warm pool's child has had time to be ready (its program's process done with what it does ahead)")
	fl := flag.Int("floors", 0, "instead: the floors under a child's cost, this many children a layer (run as root), then moat's whole child under perf stat for -d")
	flag.StringVar(&perfControl, "perf-control", "", "perf stat's control FIFOs CTL,ACK: counting enabled around the rate part alone (set by -floors)")
	python := flag.String("python", "/usr/bin/python3", "the floors' interpreter (the zygote's runtime's)")
	flag.Parse()
	if *fl > 0 {
		if err := floors(*python, *fl, *dur); err != nil {
			fmt.Fprintln(os.Stderr, "bench/zygote:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*n, *w, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "bench/zygote:", err)
		os.Exit(1)
	}
}

type interval interface{ Tidied() <-chan struct{} }

var (
	ready       time.Duration
	perfControl string
)

func one(ctx context.Context, z *native.Zygote, tmpl *moat.Spec, wait time.Duration) (prep, run, tidy time.Duration, err error) {
	t0 := time.Now()
	p, err := z.Prepare(ctx, tmpl)
	if err != nil {
		return 0, 0, 0, err
	}
	prep = time.Since(t0)
	time.Sleep(wait)
	t1 := time.Now()
	var out bytes.Buffer
	spec := *tmpl
	spec.Args = []string{"-c", "print(1)"}
	spec.Stdout = &out
	res, err := p.Run(ctx, &spec)
	t2 := time.Now()
	if err != nil {
		p.Close()
		return 0, 0, 0, err
	}
	if out.String() != "1\n" || res.Status != moat.StatusExited {
		p.Close()
		return 0, 0, 0, fmt.Errorf("run: %s %q", res.Status, out.String())
	}
	if t, ok := p.(interval); ok {
		<-t.Tidied()
	}
	return prep, t2.Sub(t1), time.Since(t2), nil
}

func run(n, w int, dur time.Duration) error {
	tmpl := moat.Spec{NoReport: true}
	z, err := native.NewZygote(&tmpl)
	if err != nil {
		return err
	}
	defer z.Close()
	ctx := context.Background()
	var ps, rs, ts []time.Duration
	for range n {
		p, r, t, err := one(ctx, z, &tmpl, ready)
		if err != nil {
			return err
		}
		ps, rs, ts = append(ps, p), append(rs, r), append(ts, t)
	}
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"prepare", ps}, {"run print(1)", rs}, {"teardown", ts}} {
		if len(s.d) == 0 {
			continue
		}
		sort.Slice(s.d, func(i, j int) bool { return s.d[i] < s.d[j] })
		fmt.Printf("%-14s p50 %7.1fms p90 %7.1fms max %7.1fms\n", s.name, ms(s.d[len(s.d)/2]), ms(s.d[len(s.d)*9/10]), ms(s.d[len(s.d)-1]))
	}
	var count atomic.Int64
	var wg sync.WaitGroup
	var first atomic.Value
	if perfControl != "" {
		if err := perfWindow(perfControl, "enable"); err != nil {
			return err
		}
	}
	end := time.Now().Add(dur)
	t0 := time.Now()
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				if _, _, _, err := one(ctx, z, &tmpl, 0); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	if perfControl != "" {
		if err := perfWindow(perfControl, "disable"); err != nil {
			return err
		}
	}
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	fmt.Printf("made, run and torn down by %d workers: %d, %.1f/s\n", w, count.Load(), float64(count.Load())/time.Since(t0).Seconds())
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
