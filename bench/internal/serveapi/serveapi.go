// Package serveapi holds what the benchmarks of moat serve share as its
// clients.
package serveapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// WaitReady polls the server's /v1/ready through hc (a client bound to its
// socket, host "moat") until its pool holds want ready sandboxes, for up to
// two minutes.
func WaitReady(hc *http.Client, want int) error {
	return waitFor(hc, "pool", want)
}

// WaitZygote waits until the server's zygote pool (moat serve --zygote)
// has want children ready.
func WaitZygote(hc *http.Client, want int) error {
	return waitFor(hc, "zygote", want)
}

func waitFor(hc *http.Client, which string, want int) error {
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		resp, err := hc.Get("http://moat/v1/ready")
		if err != nil {
			continue
		}
		var m map[string]struct{ Ready int }
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if m[which].Ready >= want {
			return nil
		}
	}
	return fmt.Errorf("moat serve: the %s did not fill", which)
}
