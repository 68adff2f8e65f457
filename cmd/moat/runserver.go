package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
	"unicode/utf8"

	"github.com/moat-sandbox/moat"
)

// maxServerStdin is how much of a non-terminal stdin `moat run` reads
// to hand to a local server; more, and it runs the program itself.
const maxServerStdin = 256 << 10

// viaServer runs spec on the local `moat serve` (its warm pool) when one
// answers on its socket and the run is one it takes: no workspace, out
// directory, interpreter, image, userland or degraded layers, a network of
// none or sinkhole, and a stdin that is not a terminal (an interactive
// program keeps its terminal: it runs here). ok=false: run it here; then
// spec.Stdin is what is left of the caller's stdin.
func viaServer(ctx context.Context, spec *moat.Spec, isolation string) (res *moat.Result, pooled, ok bool) {
	sock := defaultSocket()
	if sock == "" || os.Getenv("MOAT_NO_SERVER") != "" {
		return nil, false, false
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil, false, false
	}
	if spec.Workspace != "" || spec.OutDir != "" || spec.Python != "" || spec.Image != "" || spec.Userland || spec.AllowDegraded ||
		(spec.Network != moat.NetworkNone && spec.Network != moat.NetworkSinkhole) || isTerminal(os.Stdin) {
		return nil, false, false
	}
	req := map[string]any{"isolation": isolation, "env": spec.Env, "no_report": spec.NoReport, "network": string(spec.Network)}
	switch spec.Args[0] {
	case "-c":
		req["code"], req["args"] = spec.Args[1], spec.Args[2:]
	case "-m":
		req["module"], req["args"] = spec.Args[1], spec.Args[2:]
	default:
		req["script"], req["args"] = spec.Args[0], spec.Args[1:]
	}
	files := map[string]string{}
	for k, v := range spec.Files {
		if !utf8.Valid(v) {
			return nil, false, false // JSON strings carry text only
		}
		files[k] = string(v)
	}
	req["files"] = files
	l := spec.Limits
	req["limits"] = map[string]any{"timeout_ms": l.Timeout.Milliseconds(), "memory": l.Memory, "pids": l.Pids, "cpus": l.CPUs, "disk": l.Disk, "output_limit": l.OutputLimit}
	in, err := io.ReadAll(io.LimitReader(os.Stdin, maxServerStdin+1))
	if err != nil || len(in) > maxServerStdin {
		spec.Stdin = io.MultiReader(bytes.NewReader(in), os.Stdin)
		return nil, false, false
	}
	spec.Stdin = bytes.NewReader(in) // for a run here, if the server refuses
	req["stdin"] = string(in)
	body, _ := json.Marshal(req)

	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	hreq, _ := http.NewRequestWithContext(cctx, "POST", "http://moat/v1/runs", bytes.NewReader(body))
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, false, false
	}
	var created struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || created.ID == "" {
		fmt.Fprintf(os.Stderr, "moat: the local server (%s) did not take the run (%s); running it here\n", sock, created.Error)
		return nil, false, false
	}
	// From here the run is the server's: its result, or an error result.
	res, pooled, err = streamFromServer(ctx, hc, created.ID, spec)
	if err != nil {
		res = &moat.Result{Status: moat.StatusError, Error: fmt.Sprintf("local server %s: %v", sock, err)}
	}
	how := "cold"
	if pooled {
		how = "warm pool"
	}
	fmt.Fprintf(os.Stderr, "moat: run by the local server at %s (%s)\n", sock, how)
	return res, pooled, true
}

// streamFromServer copies the run's output to spec's writers as it comes
// and returns its result; canceling ctx cancels the run on the server.
func streamFromServer(ctx context.Context, hc *http.Client, id string, spec *moat.Spec) (*moat.Result, bool, error) {
	stop := context.AfterFunc(ctx, func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, _ := http.NewRequestWithContext(c, "POST", "http://moat/v1/runs/"+id+"/cancel", nil)
		if resp, err := hc.Do(r); err == nil {
			resp.Body.Close()
		}
	})
	defer stop()
	r, _ := http.NewRequest("GET", "http://moat/v1/runs/"+id+"/stream", nil)
	resp, err := hc.Do(r)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("stream: %s", resp.Status)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var line struct {
			Stream string       `json:"stream"`
			Data   string       `json:"data"`
			State  string       `json:"state"`
			Result *moat.Result `json:"result"`
			Error  string       `json:"error"`
		}
		if err := dec.Decode(&line); err != nil {
			return nil, false, fmt.Errorf("stream: %w", err)
		}
		switch {
		case line.Stream == "stdout" && spec.Stdout != nil:
			_, _ = io.WriteString(spec.Stdout, line.Data)
		case line.Stream == "stderr" && spec.Stderr != nil:
			_, _ = io.WriteString(spec.Stderr, line.Data)
		case line.State == "done":
			if line.Result == nil {
				return nil, false, errors.New(line.Error)
			}
			return line.Result, pooledOf(hc, id), nil
		}
	}
}

// pooledOf asks whether the warm pool ran it.
func pooledOf(hc *http.Client, id string) bool {
	r, _ := http.NewRequest("GET", "http://moat/v1/runs/"+id, nil)
	resp, err := hc.Do(r)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var v struct {
		Pooled bool `json:"pooled"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&v)
	return v.Pooled
}
