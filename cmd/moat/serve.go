package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"

	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/pool"
	"github.com/moat-sandbox/moat/server"
)

type serveFlags struct {
	listen, socket, tokenFile, adminTokenFile, stateDir, isolation, maxTimeout, grace, poolBackend, image string
	limitFlags
	pool, workers, queue int
	allowRemote          bool
	zygote               int
}

func serveCmd() *cobra.Command {
	f := &serveFlags{}
	c := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve moat as an HTTP+JSON API (/v1) and MCP tools, with a warm pool",
		Long: `Serve the /v1 API (OpenAPI document at /v1/openapi.json) on a loopback
address and on a Unix socket. TCP requests need a bearer token from
--token-file (one token per line; without the flag a token is made in
the state directory); socket requests are those of the socket's owner.
A run is visible only to the token (or user) that created it; the
metrics only to the socket's user and --admin-token-file tokens. SIGTERM:
no new runs, the running ones get --grace, then are canceled; nothing is
left behind. See docs/serve.md.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error { return doServe(c, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8787", "TCP address; \"\" for none (loopback unless --allow-remote)")
	fl.StringVar(&f.socket, "socket", defaultSocket(), "Unix socket (mode 0600) that `moat run` uses; \"\" for none")
	fl.StringVar(&f.tokenFile, "token-file", "", "file of bearer tokens, one per line, mode 0600 (default: STATE-DIR/token, made if missing)")
	fl.StringVar(&f.adminTokenFile, "admin-token-file", "", "file of bearer tokens (as --token-file) that may read /v1/metrics, which count every token's runs; run tokens may not")
	fl.StringVar(&f.stateDir, "state-dir", defaultStateDir(), "directory for uploads and the generated token")
	fl.StringVar(&f.isolation, "isolation", "auto", "backend of a run that names none")
	fl.IntVar(&f.pool, "pool", 4, "sandboxes kept prepared (0: no warm pool)")
	fl.IntVar(&f.zygote, "zygote", 0, "native zygote children kept forked for the native runs that fit one, with the report or without (0: none; see docs/serve.md)")
	fl.StringVar(&f.poolBackend, "pool-backend", "", "backend of the warm pool: native, docker, podman, gvisor (--image through Docker's runsc) or kubernetes (default: --isolation's when it keeps a pool, else native)")
	fl.StringVar(&f.image, "image", "", "the image of every run of a container backend, and of a container pool (default: the backend's own); a request for another is refused")
	fl.IntVar(&f.workers, "workers", 8, "runs at once")
	fl.IntVar(&f.queue, "queue", 64, "runs that may wait for a worker; beyond: 429")
	fl.StringVar(&f.maxTimeout, "max-timeout", "60s", "largest wall clock a run may ask for")
	addLimitFlags(fl, &f.limitFlags, "the largest a run may ask for")
	fl.StringVar(&f.grace, "grace", "10s", "on SIGTERM, how long running runs may go on before they are canceled")
	fl.BoolVar(&f.allowRemote, "allow-remote", false, "allow a --listen address that is not loopback")
	return c
}

// startPool starts the warm pool of --pool-backend (default: the
// --isolation backend's when it can prepare sandboxes, else native's), or
// none when that backend does not work here, and names its backend.
func startPool(ctx context.Context, f *serveFlags, max moat.Limits, log *slog.Logger) (*pool.Pool, string, error) {
	name := f.poolBackend
	if name == "" {
		name = "native"
		if b, err := moat.Get(f.isolation); err == nil {
			if _, ok := b.(moat.Preparer); ok {
				name = f.isolation
			}
		}
	}
	b, err := moat.Get(name)
	if err != nil {
		return nil, "", fmt.Errorf("--pool-backend: %w", err)
	}
	if _, ok := b.(moat.Preparer); !ok {
		return nil, "", fmt.Errorf("--pool-backend %s: this backend cannot keep sandboxes prepared (native, docker, podman, gvisor and kubernetes can): %w", name, moat.ErrUnsupported)
	}
	tmpl := moat.Spec{Image: f.image, Limits: moat.Limits{Memory: min(max.Memory, moat.DefaultMemory), Pids: min(max.Pids, moat.DefaultPids),
		Disk: min(max.Disk, moat.DefaultDisk), CPUs: max.CPUs,
		// A Pod's deadline is fixed when it starts: made for the
		// longest run (native's and the containers' ignore the timeout).
		Timeout: max.Timeout}}
	if im, ok := b.(moat.Imager); ok && tmpl.Image == "" {
		tmpl.Image = im.DefaultImage()
	}
	if name == "gvisor" && tmpl.Image == "" {
		log.Warn("no warm pool: gVisor keeps containers prepared only for an image, through Docker's runsc; start with --image IMAGE", "backend", name)
		return nil, "", nil
	}
	if name == "native" && f.image != "" {
		if f.poolBackend == "" {
			log.Warn("no warm pool: the runs are of an image (--image), the native pool's of the host's Python; give --isolation docker, podman or gvisor for a pool of containers")
			return nil, "", nil
		}
		return nil, "", fmt.Errorf("--image %s: the native pool runs the host's Python, not an image; give --pool-backend docker, podman or gvisor: %w", f.image, moat.ErrUnsupported)
	}
	if err := moat.Check(ctx, b); err != nil {
		log.Warn("no warm pool: the backend does not work here", "backend", name, "err", err)
		return nil, "", nil
	}
	p, err := pool.New(b, tmpl, f.pool, 2)
	if err != nil {
		return nil, "", err
	}
	log.Info("warm pool", "backend", name, "size", f.pool, "image", tmpl.Image)
	return p, name, nil
}

// defaultSocket is where `moat serve` listens and `moat run` looks:
// $MOAT_SOCKET, else /run/moat/serve.sock for root, else
// $XDG_RUNTIME_DIR/moat/serve.sock.
func defaultSocket() string {
	if s := os.Getenv("MOAT_SOCKET"); s != "" {
		return s
	}
	if os.Geteuid() == 0 {
		return "/run/moat/serve.sock"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "moat", "serve.sock")
	}
	return ""
}

func defaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/moat/serve"
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".local", "state", "moat", "serve")
	}
	return ""
}

func doServe(c *cobra.Command, f *serveFlags) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	var max moat.Limits
	var err error
	if max.Timeout, err = time.ParseDuration(f.maxTimeout); err != nil || max.Timeout <= 0 {
		return fmt.Errorf("--max-timeout: invalid duration %q", f.maxTimeout)
	}
	grace, err := time.ParseDuration(f.grace)
	if err != nil || grace < 0 {
		return fmt.Errorf("--grace: invalid duration %q", f.grace)
	}
	if err := f.limits(&max); err != nil {
		return err
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"--pool", f.pool}, {"--zygote", f.zygote}, {"--workers", f.workers}, {"--queue", f.queue}} {
		if n.v < 0 {
			return fmt.Errorf("%s: %d is negative", n.name, n.v)
		}
	}
	if f.listen == "" && f.socket == "" {
		return errors.New("nothing to listen on: give --listen or --socket")
	}
	if f.stateDir == "" {
		return errors.New("--state-dir: no default here; give one")
	}
	if err := os.MkdirAll(f.stateDir, 0o700); err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}
	if err := checkStateDir(f.stateDir); err != nil {
		return err
	}
	if b, err := moat.Get(f.isolation); err == nil && f.image != "" {
		// Every run is of the image: a backend that runs none refuses
		// them all.
		if sp, ok := b.(moat.Supporter); ok {
			if err := sp.Supports(&moat.Spec{Args: []string{"-c", "pass"}, Image: f.image}); err != nil {
				return fmt.Errorf("--image with --isolation %s: %w", f.isolation, err)
			}
		}
	}
	cfg := server.Config{Isolation: f.isolation, Max: max, Workers: f.workers, Queue: f.queue, StateDir: f.stateDir, Log: log}
	var ln net.Listener
	if f.listen != "" {
		if err := checkLoopback(f.listen, f.allowRemote); err != nil {
			return err
		}
		tf := f.tokenFile
		if tf == "" {
			if tf, err = ensureToken(filepath.Join(f.stateDir, "token")); err != nil {
				return err
			}
		}
		if cfg.Tokens, err = server.ReadTokenFile(tf); err != nil {
			return err
		}
		if f.adminTokenFile != "" {
			if cfg.AdminTokens, err = server.ReadTokenFile(f.adminTokenFile); err != nil {
				return fmt.Errorf("--admin-token-file: %w", err)
			}
		}
		if ln, err = net.Listen("tcp", f.listen); err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
		log.Info("listening", "addr", ln.Addr().String(), "token_file", tf)
	}
	var sock net.Listener
	if f.socket != "" {
		if sock, err = listenSocket(f.socket); err != nil {
			return fmt.Errorf("--socket: %w", err)
		}
		defer os.Remove(f.socket)
		log.Info("listening", "socket", f.socket)
	}
	cfg.Image = f.image
	if f.pool > 0 {
		if cfg.Pool, cfg.PoolBackend, err = startPool(c.Context(), f, max, log); err != nil {
			return err
		}
	}
	if f.zygote > 0 {
		z, err := startZygote(max, f.zygote)
		if err != nil {
			return fmt.Errorf("--zygote: %w", err)
		}
		cfg.ZygotePool = z.pool
		defer z.close() // after Shutdown, which closes the pool
		log.Info("zygote pool", "size", f.zygote)
	}
	s, err := server.New(cfg)
	if err != nil {
		return err
	}
	var servers []*http.Server
	errs := make(chan error, 2)
	for _, l := range []net.Listener{ln, sock} {
		if l == nil {
			continue
		}
		hs := server.NewHTTPServer(s.Handler(), log)
		if l == sock {
			hs.ConnContext = server.PeerContext
		}
		servers = append(servers, hs)
		go func() { errs <- hs.Serve(l) }()
	}
	ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-errs:
		log.Error("serve", "err", err)
	}
	log.Info("shutting down", "grace", grace.String())
	gctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, hs := range servers {
		go func() { _ = hs.Shutdown(gctx) }()
	}
	s.Shutdown(gctx) // runs end (canceled after the grace), the pool is emptied
	for _, hs := range servers {
		_ = hs.Close()
	}
	log.Info("stopped")
	return nil
}

// checkLoopback refuses an address that is not loopback unless allowed.
func checkLoopback(addr string, allow bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if allow {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %q is not a loopback address; pass --allow-remote to serve beyond this machine", addr)
	}
	return nil
}

// checkStateDir refuses a state directory that another user owns or may
// write to: the generated token and the uploads live there.
func checkStateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--state-dir %s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("--state-dir %s belongs to uid %d, not to this server's user (%d)", dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("--state-dir %s may be written by others (mode %v); chmod 700 it", dir, fi.Mode().Perm())
	}
	return nil
}

// ensureToken makes a token file with one random token if there is none.
func ensureToken(path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	if err := os.WriteFile(path, []byte(hex.EncodeToString(b[:])+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	return path, nil
}

// listenSocket listens on a Unix socket only its owner can connect to; a
// stale socket (nothing answers) is replaced, a live one is an error.
func listenSocket(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s: a server is already listening there", path)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		_ = os.Remove(path)
	}
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
