package docker_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/moattest"
)

// TestRemoteDaemon: a daemon reached over TCP (DOCKER_HOST=tcp://...) is
// not on this host for moat, which then cannot bind its own files into a
// container: the run's /etc/passwd and /etc/group (the persona's user and
// group) come through the API instead, and the conformance case user
// holds. The daemon is the local one behind a TCP relay of this test
// (tcpRelay): a real daemon, reached as a remote one is. No volume of a
// run's /etc is left.
func TestRemoteDaemon(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	host := tcpRelay(t)
	t.Setenv("DOCKER_HOST", host)
	moattest.Run(t, func() moat.Backend { return docker.New(testImage(), "", host) }, moattest.Options{
		Layers: layers, Container: moattest.ContainerOptions, Cases: []string{"user"},
	})
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	vols, err := cli.VolumeList(context.Background(), volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "moat.run"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols.Volumes {
		t.Errorf("a run's volume is left: %s %v", v.Name, v.Labels)
	}
}

// tcpRelay listens on a loopback TCP port and relays every connection of
// this test's own user to the local daemon's Unix socket, until the test
// ends; it returns the tcp:// address. (Another user's connection, which
// the relay would make root on the daemon, is closed: its owner is read
// from /proc/net/tcp.)
func tcpRelay(t *testing.T) string {
	t.Helper()
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		sock = strings.TrimPrefix(h, "unix://")
	} else if h != "" {
		t.Skipf("DOCKER_HOST=%s is not a local daemon's Unix socket", h)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Skipf("no daemon socket: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn // closed at the end: a client's idle ones stay open
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if uid, ok := peerUID(c.RemoteAddr().(*net.TCPAddr).Port); !ok || uid != os.Getuid() {
					return
				}
				d, err := net.Dial("unix", sock)
				if err != nil {
					return
				}
				defer d.Close()
				done := make(chan struct{})
				go func() {
					_, _ = io.Copy(d, c)
					_ = d.(*net.UnixConn).CloseWrite()
					close(done)
				}()
				_, _ = io.Copy(c, d)
				_ = c.(*net.TCPConn).CloseWrite()
				<-done
			}()
		}
	}()
	return "tcp://" + ln.Addr().String()
}

// peerUID returns the owner of the loopback TCP socket whose local port is
// port (the relay's peer), from /proc/net/tcp.
func peerUID(port int) (int, bool) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || !strings.HasSuffix(fields[1], want) || !strings.HasPrefix(fields[1], "0100007F") {
			continue
		}
		uid, err := strconv.Atoi(fields[7])
		return uid, err == nil
	}
	return 0, false
}
