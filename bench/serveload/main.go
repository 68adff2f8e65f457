// Command serveload is issue 15's load test of `moat serve`: it starts a
// server with a warm native pool on a Unix socket (state and TMPDIR in a
// private temporary directory), sends -n runs, -c at a time, each with a
// nonce of its own in its argv, its stdin and a file, and checks that
// every run comes back whole with its own nonce (none lost, none mixed
// up). Then it stops the server with SIGTERM and checks that nothing was
// left: no process carrying the nonces' marker, no new moat cgroup, no
// new mount, no file in the private TMPDIR nor an upload in the state
// directory.
//
//	go build -o . ./cmd/moat ./cmd/moat-init && nice -n 10 go run ./bench/serveload -moat ./moat -n 10000 -c 32
//
// It prints runs per second, latency percentiles and how many runs the
// pool served, and exits 1 on a wrong result or a leak.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat/bench/internal/serveapi"
	"github.com/moat-sandbox/moat/moattest"
)

func main() {
	moat := flag.String("moat", "./moat", "moat binary")
	n := flag.Int("n", 10000, "runs")
	conc := flag.Int("c", 32, "clients at once")
	poolSize := flag.Int("pool", 8, "warm pool size")
	zygote := flag.Int("zygote", 0, "zygote pool size (moat serve --zygote); with it every run asks for no report, so that the zygote's children take them")
	grace := flag.Duration("grace", 30*time.Second, "how long a moat cgroup new since the start may take to go")
	limit := flag.Duration("for", 0, "if set, send no new run after this long (the runs sent are checked)")
	flag.Parse()
	if err := run(*moat, *n, *conc, *poolSize, *zygote, *grace, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "serveload:", err)
		os.Exit(1)
	}
}

func run(moat string, n, conc, poolSize, zygote int, grace, limit time.Duration) error {
	dir, err := os.MkdirTemp("", "moat-serveload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tmp, state := filepath.Join(dir, "tmp"), filepath.Join(dir, "state")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	var mk [6]byte
	_, _ = rand.Read(mk[:])
	marker := "moatload" + hex.EncodeToString(mk[:])
	mountsBefore, cgBefore := moattest.Mounts(), moattest.MoatCgroups()

	sock := filepath.Join(dir, "s.sock")
	srv := exec.Command(moat, "serve", "--listen", "", "--socket", sock, "--state-dir", state,
		"--isolation", "native", "--pool", strconv.Itoa(poolSize), "--workers", strconv.Itoa(conc), "--queue", strconv.Itoa(4*conc), "--zygote", strconv.Itoa(zygote))
	srv.Env = append(os.Environ(), "TMPDIR="+tmp)
	var logs bytes.Buffer
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		return err
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = srv.Process.Signal(syscall.SIGTERM)
		return srv.Wait()
	}
	defer stop()
	hc := &http.Client{Timeout: 10 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * conc, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
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

	var (
		next, ok, pooled, busy atomic.Int64
		mu                     sync.Mutex
		bad                    []string
		lat                    []time.Duration
		wg                     sync.WaitGroup
	)
	fail := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		bad = append(bad, s)
	}
	code := "import sys\nprint(sys.argv[1], sys.stdin.read(), open('in.txt').read())"
	t0 := time.Now()
	var sent atomic.Int64
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if limit > 0 && time.Since(t0) > limit {
					return
				}
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				sent.Add(1)
				nonce := fmt.Sprintf("%s-%d", marker, i)
				body, _ := json.Marshal(map[string]any{"code": code, "args": []string{nonce}, "stdin": nonce + "i", "files": map[string]string{"in.txt": nonce + "f"}, "no_report": zygote > 0})
				for attempt := 0; ; attempt++ {
					t1 := time.Now()
					resp, err := hc.Post("http://moat/v1/runs?wait=true", "application/json", bytes.NewReader(body))
					if err != nil {
						fail(fmt.Sprintf("run %d: %v", i, err))
						break
					}
					raw, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusTooManyRequests && attempt < 1000 {
						busy.Add(1)
						time.Sleep(50 * time.Millisecond)
						continue
					}
					var res struct {
						Status, Stdout string
					}
					want := fmt.Sprintf("%s %si %sf\n", nonce, nonce, nonce)
					if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &res) != nil || res.Status != "exited" || res.Stdout != want {
						fail(fmt.Sprintf("run %d: %d %.300s", i, resp.StatusCode, raw))
						break
					}
					ok.Add(1)
					if resp.Header.Get("Moat-Pooled") == "true" {
						pooled.Add(1)
					}
					mu.Lock()
					lat = append(lat, time.Since(t1))
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0)
	if err := stop(); err != nil {
		fail(fmt.Sprintf("moat serve after SIGTERM: %v", err))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p int) string {
		if len(lat) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1fms", float64(lat[min(len(lat)-1, len(lat)*p/100)].Microseconds())/1000)
	}
	fmt.Printf("runs %d (of %d) at concurrency %d: %d right, %d wrong or lost, %d from the pool, %d answers 429 retried\n",
		sent.Load(), n, conc, ok.Load(), sent.Load()-ok.Load(), pooled.Load(), busy.Load())
	fmt.Printf("wall %s, %.1f runs/s, latency p50 %s p99 %s\n", wall.Round(time.Millisecond), float64(ok.Load())/wall.Seconds(), pct(50), pct(99))

	// What is left once the server is gone.
	var leaks []string
	if procs := withMarker(marker); len(procs) > 0 {
		leaks = append(leaks, "processes: "+strings.Join(procs, "; "))
	}
	for m := range moattest.Mounts() {
		// moat's would be under its directories or name it; the
		// container engines' of other programs come and go.
		if !mountsBefore[m] && (strings.HasPrefix(m, dir) || strings.Contains(m, "moat")) {
			leaks = append(leaks, "mount "+m)
		}
	}
	deadline := time.Now().Add(grace)
	var cgs []string
	for {
		cgs = cgs[:0]
		for c := range moattest.MoatCgroups() {
			if !cgBefore[c] && createdAfter(c, t0) {
				cgs = append(cgs, c)
			}
		}
		if len(cgs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second) // another program's runs come and go
	}
	for _, c := range cgs {
		leaks = append(leaks, "cgroup "+c+" (or another program's, if it runs)")
	}
	for _, d := range []string{tmp, state} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if d == state && !strings.HasPrefix(e.Name(), "upload-") {
				continue // the token and the like
			}
			leaks = append(leaks, "file "+filepath.Join(d, e.Name()))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("%d runs wrong or lost, the first: %s", len(bad), strings.Join(bad[:min(5, len(bad))], "\n"))
	}
	if len(leaks) > 0 {
		return fmt.Errorf("left behind: %s", strings.Join(leaks, "\n"))
	}
	fmt.Println("nothing left: no process, cgroup, mount, temporary file or upload")
	return nil
}

// createdAfter: a cgroup directory made since t (ours, not one of a
// program that ran before).
func createdAfter(p string, t time.Time) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.ModTime().After(t.Add(-time.Second))
}

// withMarker lists the processes whose command line holds marker.
func withMarker(marker string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(marker)) {
			out = append(out, e.Name()+" "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
