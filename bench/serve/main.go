// Command serve times `print(1)` through moat serve's API: one client
// after another (latency: p50, p99) and many at once (runs per second),
// with the warm pool and cold (a limit the pool was not prepared for),
// beside bare `python3 -I -S -c pass`, and the cold path of the other
// backends named by -backends. -isolation and -image give the server's
// backend and image: `-isolation docker -image moat/python:bookworm`
// times a pool of prepared containers beside docker's cold path. It starts its own `moat serve` on a Unix
// socket in a temporary directory; an interrupt stops it cleanly.
//
//	go build -o . ./cmd/moat ./cmd/moat-init && go run ./bench/serve -moat ./moat -n 200 -c 8 [-backends gvisor] [-isolation docker -image IMAGE]
//
// With -rates 2,5,10,20, also an open loop: requests offered at each
// rate whatever the answers (even spacing, or -poisson), p50/p99 from
// each request's due time, and the rate at which p99 passes 15 ms; with
// -open-only, bare python3 and the open loop alone:
//
//	go run ./bench/serve -moat ./moat -pool 2 -zygote 4 -rates 2,5,10,20 -rate-d 10s -open-only
//
// CPU/run is the server's and its reaped children's: a zygote's
// children are reaped by the kernel, not counted there (bench/zygote
// -floors counts every process).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat/bench/internal/serveapi"
)

func main() {
	moat := flag.String("moat", "./moat", "moat binary")
	python := flag.String("python", "/usr/bin/python3", "interpreter of the bare peer (and of the runs)")
	n := flag.Int("n", 200, "sequential runs per measurement")
	conc := flag.Int("c", 8, "clients at once for the throughput")
	dur := flag.Duration("d", 10*time.Second, "length of each throughput measurement")
	poolSize := flag.Int("pool", 8, "warm pool size")
	zygote := flag.Int("zygote", 0, "zygote pool size (moat serve --zygote); 0: not timed")
	isolation := flag.String("isolation", "native", "the server's backend, and its pool's")
	image := flag.String("image", "", "the server's image (moat serve --image)")
	others := flag.String("backends", "", "comma-separated backends (docker, podman, gvisor ...) also timed cold through the API, n/5 runs each")
	rates := flag.String("rates", "", "open loop: comma-separated offered rates in runs/s (2,5,10,20): requests sent at those rates whatever the answers, each rate for -rate-d, p50/p99 from each request's scheduled time; the zygote's runs with -zygote, else the warm pool's")
	rateDur := flag.Duration("rate-d", 10*time.Second, "length of each open-loop rate")
	poisson := flag.Bool("poisson", false, "open loop: exponential gaps between requests (a Poisson arrival), not even spacing")
	openOnly := flag.Bool("open-only", false, "time bare python3 and the open loop (-rates) alone")
	flag.Parse()
	var rs []float64
	if *rates != "" {
		for _, f := range strings.Split(*rates, ",") {
			r, err := strconv.ParseFloat(f, 64)
			if err != nil || r <= 0 {
				fmt.Fprintf(os.Stderr, "bench/serve: -rates: %q is not a positive rate\n", f)
				os.Exit(2)
			}
			rs = append(rs, r)
		}
	}
	open = openLoop{rates: rs, dur: *rateDur, poisson: *poisson, only: *openOnly}
	var extra []string
	if *others != "" {
		extra = strings.Split(*others, ",")
	}
	if err := run(*moat, *python, *isolation, *image, *n, *conc, *dur, *poolSize, *zygote, extra); err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(1)
	}
}

func run(moat, python, isolation, image string, n, conc int, dur time.Duration, poolSize, zygote int, others []string) error {
	dir, err := os.MkdirTemp("", "moat-bench-serve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s.sock")
	srv := exec.Command(moat, "serve", "--listen", "", "--socket", sock, "--state-dir", filepath.Join(dir, "state"),
		"--isolation", isolation, "--image", image, "--pool", strconv.Itoa(poolSize), "--workers", strconv.Itoa(max(conc, 2)), "--queue", "1024", "--zygote", strconv.Itoa(zygote))
	var logs bytes.Buffer
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		return err
	}
	stop := func() {
		_ = srv.Process.Signal(os.Interrupt) // the server destroys its pool
		_ = srv.Wait()
	}
	defer stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		stop()
		os.RemoveAll(dir)
		os.Exit(130)
	}()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	if err := serveapi.WaitReady(hc, poolSize); err != nil {
		return fmt.Errorf("%w\n%s", err, logs.String())
	}
	if zygote > 0 {
		if err := serveapi.WaitZygote(hc, zygote); err != nil {
			return fmt.Errorf("%w\n%s", err, logs.String())
		}
	}
	warm := []byte(`{"code":"print(1)"}`)
	zbody := []byte(`{"code":"print(1)","no_report":true}`)             // a zygote child's
	cold := []byte(`{"code":"print(1)","limits":{"memory":268435456}}`) // not the pool's template
	call := func(body []byte) (time.Duration, bool, error) {
		t0 := time.Now()
		resp, err := hc.Post("http://moat/v1/runs?wait=true", "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, false, err
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		var res struct {
			Status string `json:"status"`
			Stdout string `json:"stdout"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(raw, &res) != nil || res.Stdout != "1\n" {
			return d, false, fmt.Errorf("%d %.200s", resp.StatusCode, raw)
		}
		return d, resp.Header.Get("Moat-Pooled") == "true", nil
	}
	bare := func() (time.Duration, bool, error) {
		t0 := time.Now()
		err := exec.Command(python, "-I", "-S", "-c", "pass").Run()
		return time.Since(t0), false, err
	}
	fmt.Printf("%-34s %9s %9s %9s %8s %9s\n", "what", "p50", "p99", "runs/s", "pooled", "CPU/run")
	// CPU/run: the server's CPU time and its reaped children's (every
	// sandbox's init and what it reaped), over the runs: what a run costs
	// the machine, prepare and teardown included, whatever the load.
	cpu := func() time.Duration {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", srv.Process.Pid))
		if err != nil {
			return 0
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		var t int64
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			v, _ := strconv.ParseInt(f[i], 10, 64)
			t += v
		}
		return time.Duration(t) * 10 * time.Millisecond // USER_HZ 100
	}
	var seqN func(name string, n int, f func() (time.Duration, bool, error)) error
	seq := func(name string, f func() (time.Duration, bool, error)) error { return seqN(name, n, f) }
	// wait waits for a full pool before each run of one client after
	// another; the zygote's steps set it to wait for the zygote's.
	wait := func() { _ = serveapi.WaitReady(hc, poolSize) }
	seqN = func(name string, n int, f func() (time.Duration, bool, error)) error {
		var ds []time.Duration
		pooled := 0
		c0 := cpu()
		for range n {
			if name != "bare python3 -I -S -c pass" {
				wait() // one client after another: a full pool each time
			}
			d, p, err := f()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			ds = append(ds, d)
			if p {
				pooled++
			}
		}
		if name != "bare python3 -I -S -c pass" {
			wait() // the refill of the last one counts too
		}
		per := ""
		if name != "bare python3 -I -S -c pass" {
			per = ms((cpu() - c0) / time.Duration(n))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		fmt.Printf("%-34s %9s %9s %9s %8s %9s\n", name, ms(ds[len(ds)/2]), ms(ds[len(ds)*99/100]), "", fmt.Sprintf("%d/%d", pooled, n), per)
		return nil
	}
	par := func(name string, f func() (time.Duration, bool, error)) error {
		var wg sync.WaitGroup
		var mu sync.Mutex
		count, pooled := 0, 0
		var firstErr error
		end := time.Now().Add(dur)
		t0 := time.Now()
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) {
					_, p, err := f()
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					count++
					if p {
						pooled++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return fmt.Errorf("%s: %w", name, firstErr)
		}
		fmt.Printf("%-34s %9s %9s %9.1f %8s\n", name, "", "", float64(count)/time.Since(t0).Seconds(), fmt.Sprintf("%d/%d", pooled, count))
		return nil
	}
	steps := []func() error{
		func() error { return seq("bare python3 -I -S -c pass", bare) },
		func() error {
			return seq("API print(1), warm pool", func() (time.Duration, bool, error) { return call(warm) })
		},
		func() error {
			return seq("API print(1), cold", func() (time.Duration, bool, error) { return call(cold) })
		},
		func() error { return par(fmt.Sprintf("bare, %d at once", conc), bare) },
		func() error {
			return par(fmt.Sprintf("API warm pool, %d at once", conc), func() (time.Duration, bool, error) { return call(warm) })
		},
		func() error {
			return par(fmt.Sprintf("API cold, %d at once", conc), func() (time.Duration, bool, error) { return call(cold) })
		},
	}
	if zygote > 0 {
		steps = append(steps, func() error {
			wait = func() { _ = serveapi.WaitZygote(hc, zygote) }
			return seq("API print(1), zygote", func() (time.Duration, bool, error) { return call(zbody) })
		}, func() error {
			// With the report: a zygote child's since its report
			// (zygote_report_linux.go), the warm pool's before.
			return seq("API print(1), zygote, report", func() (time.Duration, bool, error) { return call(warm) })
		}, func() error {
			return par(fmt.Sprintf("API zygote, %d at once", conc), func() (time.Duration, bool, error) { return call(zbody) })
		}, func() error {
			wait = func() { _ = serveapi.WaitReady(hc, poolSize) }
			return nil
		})
	}
	// The other backends have no pool here: their cold path through the
	// same API, beside native's.
	nOther := max(n/5, 2)
	for _, b := range others {
		body := []byte(`{"code":"print(1)","isolation":` + strconv.Quote(b) + `}`)
		steps = append(steps, func() error {
			return seqN(fmt.Sprintf("API print(1), cold, %s", b), nOther, func() (time.Duration, bool, error) { return call(body) })
		})
	}
	if open.only {
		steps = steps[:1]
	}
	if len(open.rates) > 0 {
		name, body := "API print(1), warm pool", warm
		wait = func() { _ = serveapi.WaitReady(hc, poolSize) }
		if zygote > 0 {
			name, body = "API print(1), zygote", zbody
			wait = func() { _ = serveapi.WaitZygote(hc, zygote) }
		}
		steps = append(steps, func() error {
			return open.run(name, func() (time.Duration, bool, error) { return call(body) }, wait, cpu)
		})
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// openLoop times runs offered at fixed rates, whatever the answers: the
// back-to-back steps above send the next request when the last answer
// came, so each run also meets the refill of the one before; here a
// request's time counts from when it was due (a late send is the
// server's delay too), and the refill meets as many runs as the rate
// brings.
type openLoop struct {
	rates   []float64
	dur     time.Duration
	poisson bool
	only    bool
}

var open openLoop

func (o openLoop) run(name string, f func() (time.Duration, bool, error), wait func(), cpu func() time.Duration) error {
	spacing := "even spacing"
	if o.poisson {
		spacing = "Poisson arrivals"
	}
	fmt.Printf("\nopen loop, %s, %s, %s a rate:\n", name, spacing, o.dur)
	fmt.Printf("%-10s %9s %9s %9s %8s %9s %9s\n", "offered/s", "p50", "p99", "done/s", "pooled", "CPU/run", "load")
	rng := rand.New(rand.NewPCG(1, 2))
	passed := 0.0
	for _, rate := range o.rates {
		wait() // a full pool at the start of each rate
		gap := time.Duration(float64(time.Second) / rate)
		var (
			mu     sync.Mutex
			ds     []time.Duration
			pooled int
			first  error
			wg     sync.WaitGroup
		)
		c0 := cpu()
		t0 := time.Now()
		due := t0
		for due.Before(t0.Add(o.dur)) {
			time.Sleep(time.Until(due))
			wg.Add(1)
			go func(due time.Time) {
				defer wg.Done()
				_, p, err := f()
				d := time.Since(due)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && first == nil {
					first = err
				}
				ds = append(ds, d)
				if p {
					pooled++
				}
			}(due)
			if o.poisson {
				due = due.Add(time.Duration(rng.ExpFloat64() * float64(gap)))
			} else {
				due = due.Add(gap)
			}
		}
		wg.Wait()
		el := time.Since(t0)
		if first != nil {
			return fmt.Errorf("%s at %g/s: %w", name, rate, first)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		p99 := ds[len(ds)*99/100]
		fmt.Printf("%-10g %9s %9s %9.1f %8s %9s %9s\n", rate, ms(ds[len(ds)/2]), ms(p99), float64(len(ds))/el.Seconds(),
			fmt.Sprintf("%d/%d", pooled, len(ds)), ms((cpu()-c0)/time.Duration(len(ds))), loadavg())
		if p99 > 15*time.Millisecond && passed == 0 {
			passed = rate
		}
	}
	if passed > 0 {
		fmt.Printf("p99 passes 15 ms at %g runs/s offered\n", passed)
	} else {
		fmt.Printf("p99 within 15 ms at every rate offered\n")
	}
	return nil
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}
