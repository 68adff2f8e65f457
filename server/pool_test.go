//go:build linux

package server_test

import (
	"os"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/internal/pool"
	"github.com/moat-sandbox/moat/moattest"
	"github.com/moat-sandbox/moat/server"
)

// TestDockerPoolThroughAPI: a server whose runs go to docker, with the
// image set (Config.Image), serves them from a pool of prepared
// containers, says so in the answer, /v1/backends and the metrics, and
// refuses a request for another image.
func TestDockerPoolThroughAPI(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	img := os.Getenv("MOAT_TEST_IMAGE")
	if img == "" {
		img = "moat/python:bookworm"
	}
	p, err := pool.New(docker.New("", "", ""), moat.Spec{Image: img}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, server.Config{Isolation: "docker", Image: img, Pool: p, PoolBackend: "docker"})
	moattest.WaitReady(t, p, 1)
	resp, m := f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "import sys; print(sys.stdin.read() + '!')", "stdin": "hi"})
	if resp.StatusCode != 200 || m["stdout"] != "hi!\n" || m["isolation"] != "docker" || resp.Header.Get("Moat-Pooled") != "true" {
		t.Fatalf("pooled run: %d %v %v", resp.StatusCode, resp.Header, m)
	}
	// The pool's image, named: the same.
	moattest.WaitReady(t, p, 1)
	resp, m = f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(2)", "image": img})
	if resp.StatusCode != 200 || m["stdout"] != "2\n" || resp.Header.Get("Moat-Pooled") != "true" {
		t.Fatalf("pooled run naming the image: %d %v %v", resp.StatusCode, resp.Header, m)
	}
	// Another image: refused, nothing pulled.
	resp, m = f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(3)", "image": "python:3.13"})
	if resp.StatusCode != 400 || !strings.Contains(m["error"].(string), img) {
		t.Fatalf("another image: %d %v, want 400 naming the server's image", resp.StatusCode, m)
	}
	// Limits the pool was not prepared for: cold, in the same image.
	resp, m = f.do("POST", "/v1/runs?wait=true", tokenA, map[string]any{"code": "print(4)", "limits": map[string]any{"memory": 128 << 20}})
	if resp.StatusCode != 200 || m["stdout"] != "4\n" || resp.Header.Get("Moat-Pooled") != "" {
		t.Fatalf("cold run: %d %v %v", resp.StatusCode, resp.Header, m)
	}
	_, m = f.do("GET", "/v1/backends", tokenA, nil)
	found := false
	for _, r := range m["backends"].([]any) {
		row := r.(map[string]any)
		if row["name"] == "docker" {
			found = true
			if row["pool"] != true || row["pool_size"] != 1.0 || row["pool_image"] != img {
				t.Errorf("/v1/backends docker row: %v", row)
			}
		}
	}
	if !found {
		t.Error("/v1/backends has no docker row")
	}
	_, m = f.do("GET", "/v1/metrics", tokenAdmin, nil)
	lbl := `{backend="docker",image="` + img + `"}`
	for _, want := range []string{"moat_pool_hits_total" + lbl + " 2", "moat_pool_misses_total" + lbl + " 1", "moat_pool_size" + lbl + " 1",
		`moat_runs_total{backend="docker",pooled="true",status="exited"} 2`} {
		if !strings.Contains(m["raw"].(string), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
