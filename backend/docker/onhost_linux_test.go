package docker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/moattest"
)

// TestOnHost: a daemon is on this host when it sees this host's files,
// whatever its socket's scheme. The local daemon is; a second dockerd
// reached on a Unix socket of this host, but running in a mount
// namespace of its own with a /tmp of its own (as a daemon on another
// machine behind an ssh -L forward does, or one in a VM), is not: moat
// must not bind host paths into its containers or enter their network
// namespaces by the pids it names. (Before, every unix:// socket was
// taken as local.)
func TestOnHost(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	ctx := context.Background()
	local := "unix:///var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		local = h
	}
	if ok, why := docker.OnHost(ctx, local); !ok {
		t.Errorf("the local daemon %s is taken as elsewhere: %s", local, why)
	}
	other := elsewhereDaemon(t)
	ok, why := docker.OnHost(ctx, other)
	if ok || !strings.Contains(why, "does not see this host's files") {
		t.Errorf("a daemon in a mount namespace of its own at %s: on host %v (%s)", other, ok, why)
	}
	if why := docker.SinkRefused(ctx, other); !strings.Contains(why, "network namespaces are not on this host") {
		t.Errorf("the sinkhole is not refused on a daemon elsewhere: %q", why)
	}
}

// elsewhereDaemon starts a second dockerd, in a mount namespace of its
// own with a tmpfs on /tmp (this host's /tmp is not its), no bridge and
// no iptables rules, its state under a directory of /var/tmp (not /tmp:
// its socket must be reachable here), and returns its unix:// address;
// it is stopped at the test's end. Needs root and dockerd.
func elsewhereDaemon(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a second dockerd needs root")
	}
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		t.Skip("no dockerd on PATH")
	}
	dir, err := os.MkdirTemp("/var/tmp", "dockerd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(conf, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", `mount -t tmpfs tmpfs /tmp && exec "$@"`, "sh",
		dockerd, "--config-file", conf, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "pid"), "-H", "unix://"+sock, "--bridge", "none", "--iptables=false", "--ip-masq=false")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	cli, err := client.NewClientWithOpts(client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cli.Ping(ctx)
		cancel()
		if err == nil {
			return "unix://" + sock
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("the second dockerd ended: %s", b)
		case <-time.After(500 * time.Millisecond):
		}
		if i > 120 {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("the second dockerd does not answer: %v\n%s", err, b)
		}
	}
}

// TestGCSparesLiveRun: gc spares the /etc volume of a run that is still
// starting (made, not yet mounted by the run's container: before, gc took
// it as a killed moat's and the run's create failed), and removes one
// whose owner ended. On a second daemon of its own, so that gc touches
// no other run's containers.
func TestGCSparesLiveRun(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	ctx := context.Background()
	host := elsewhereDaemon(t)
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// a one-file image: an /etc for the volume to be filled from
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	for _, f := range []string{"etc/passwd", "etc/group"} {
		data := "root:x:0:0:root:/root:/bin/sh\n"
		tw.WriteHeader(&tar.Header{Name: f, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write([]byte(data))
	}
	tw.Close()
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: &rootfs, SourceName: "-"}, "moat-gc-test:1", image.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	starting, err := docker.StartEtcVolume(ctx, host, "moat-gc-test:1")
	if err != nil {
		t.Fatal(err)
	}
	// a volume of a moat that ended: its owner's pid with another start
	// time
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	deadOwner := fmt.Sprintf("%s/%d/1", strings.TrimSpace(string(boot)), cmd.Process.Pid)
	if _, err := cli.VolumeCreate(ctx, volume.CreateOptions{Name: "dead", Labels: map[string]string{"moat.run": "dead", "moat.owner": deadOwner}}); err != nil {
		t.Fatal(err)
	}
	removed, err := docker.GC(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(removed, "volume "+starting) || !slices.Contains(removed, "volume dead") {
		t.Errorf("gc removed %v; want the starting run's %s kept and dead removed", removed, starting)
	}
	if _, err := cli.VolumeInspect(ctx, starting); err != nil {
		t.Errorf("the starting run's volume: %v", err)
	}
}
