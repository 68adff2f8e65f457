package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/lazyre"
	"github.com/moat-sandbox/moat/pkgtest"
)

// uploadName is what an uploaded package may be called: a plain file name
// of a wheel or an sdist.
var uploadName = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}\.(whl|tar\.gz|tgz)$`)

// createTest is POST /v1/tests?filename=NAME: the body is a wheel or sdist,
// tested as `moat test` would (venv, install, import, test phases, each in
// its own sandbox); the result is pkgtest's report. The upload goes to the
// state directory and is removed when the test ends.
func (s *Server) createTest(w http.ResponseWriter, r *http.Request, owner string) {
	if s.cfg.StateDir == "" {
		writeError(w, http.StatusNotImplemented, "this server has no state directory for uploads (--state-dir)")
		return
	}
	q := r.URL.Query()
	name := q.Get("filename")
	if !uploadName.MatchString(name) {
		writeError(w, http.StatusBadRequest, "filename: want the plain name of a wheel or sdist (NAME.whl, NAME.tar.gz)")
		return
	}
	release, err := s.admitUpload(owner)
	if err != nil {
		refuse(w, err)
		return
	}
	defer release()
	// Network: the defaults (a sinkhole for install and import, none for
	// the tests): nothing leaves the machine, no index is reachable.
	dir, err := os.MkdirTemp(filepath.Join(s.cfg.StateDir), "upload-")
	if err != nil {
		writeError(w, storageCode(err), "state directory: "+err.Error())
		return
	}
	keep := false
	defer func() {
		if !keep {
			_ = os.RemoveAll(dir)
		}
	}()
	path := filepath.Join(dir, name)
	if err := s.saveUpload(w, r, path); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("upload above %d bytes", s.cfg.MaxUpload))
		default:
			writeError(w, storageCode(err), "upload: "+err.Error())
		}
		return
	}
	cfg, choice, err := s.testConfig(r.Context(), path, q.Get("phases"), q.Get("isolation"), q.Get("userland") == "false", q.Get("no_report") == "true")
	if err != nil {
		writeError(w, http.StatusBadRequest, strings.ReplaceAll(err.Error(), dir+"/", ""))
		return
	}
	wait := q.Get("wait") == "true"
	rn, err := s.start(r.Context(), owner, "test", 1<<20, wait, s.execTest(cfg, choice, dir, name))
	release()
	if err != nil {
		refuse(w, err)
		return
	}
	keep = true // the run removes it
	s.respond(w, r, rn, wait)
}

// testConfig is the pkgtest.Config of an uploaded package at path, within
// the server's maxima, and its backend.
func (s *Server) testConfig(ctx context.Context, path, phases, isolation string, noUserland, noReport bool) (pkgtest.Config, *moat.Choice, error) {
	cfg := pkgtest.Config{Limits: s.cfg.Max, NoUserland: noUserland, NoReport: noReport}
	cfg.Limits.Timeout = 0
	var err error
	if phases != "" {
		if cfg.Phases, err = pkgtest.ParsePhases(phases); err != nil {
			return cfg, nil, err
		}
	}
	// Each phase's wall clock stays within the server's maximum. The
	// network is the default of each phase (a sinkhole for install and
	// import, none for the tests): nothing leaves the machine.
	cfg.Timeouts = map[string]time.Duration{}
	for ph, d := range pkgtest.DefaultTimeouts {
		cfg.Timeouts[ph] = min(d, s.cfg.Max.Timeout)
	}
	if cfg.Target, err = pkgtest.DetectTarget(path, false); err != nil {
		return cfg, nil, err
	}
	choice, err := selectIsolating(ctx, cmpOr(isolation, s.cfg.Isolation), cfg.Needs()...)
	if err != nil {
		return cfg, nil, err
	}
	cfg.Backend, cfg.Isolation = choice.Backend, choice.Name
	if im, ok := choice.Backend.(moat.Imager); ok {
		cfg.Image = im.DefaultImage()
	}
	return cfg, choice, nil
}

// execTest runs a test and removes its upload directory.
func (s *Server) execTest(cfg pkgtest.Config, choice *moat.Choice, dir, name string) func(context.Context, *run) {
	return func(ctx context.Context, rn *run) {
		defer os.RemoveAll(dir)
		rn.setRunning(choice.Name)
		start := time.Now()
		rep, err := pkgtest.Run(ctx, cfg)
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		status := "error"
		if rep != nil {
			status = rep.Status
			rep.Target = name // not the state directory's path
		}
		s.metrics.observe(choice.Name, "test-"+status, false, time.Since(start))
		s.log.Info("test done", "run", rn.id, "backend", choice.Name, "status", status, "ms", time.Since(start).Milliseconds())
		var res any = rep
		if rep == nil {
			res = nil
		}
		rn.finish(res, false, errText)
	}
}

// saveUpload writes the request body to path, bounded by MaxUpload; a
// partial file is removed.
func (s *Server) saveUpload(w http.ResponseWriter, r *http.Request, path string) error {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// storageCode is 507 for a full disk, else 500.
func storageCode(err error) int {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
