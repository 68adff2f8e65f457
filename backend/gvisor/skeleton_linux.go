package gvisor

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/moat-sandbox/moat/internal/local"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
)

// The read-only root of a run (writeRootfs: mount points of the binds, the
// runtime's links, /etc, the hook) depends only on the interpreter and on
// whether the report is on, and runsc never writes to it (it is mounted
// read-only; the gofer binds into it in its own mount namespace). So it is
// built once per content, in a directory named by the content's hash, and
// shared by every run: some 30 files fewer to create and, above all, to
// remove at every run (a few ms). It is moat's, like the probe cache: no
// run's data is in it, and every run of the same interpreter sees the same
// one. A skeleton is made under a temporary name and renamed whole, so a
// run never sees one half written.

// skeletonPrefix names the shared roots in stateBase.
const skeletonPrefix = "rootfs-"

// skeletonVersion is part of every skeleton's key: change it whenever
// writeRootfs or buildSkeleton make something else from the same inputs,
// or runs would share a root of the old make.
const skeletonVersion = 10

// voidFile, in a skeleton, is an empty file of mode 0 (bundleConfig.Void).
const voidFile = "void"

// skeleton returns the shared root for rt (dir/root), with the audit hook
// (and its bytecode bc, if any) in dir/py when hook is set: outside the
// root, bound where the run's persona says.
func skeleton(rt *pyrt.Runtime, hook bool, bc *audit.Bytecode) (dir string, err error) {
	key := skeletonKey(rt, hook, bc)
	dir = filepath.Join(stateBase(), skeletonPrefix+key)
	if fi, err := os.Lstat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	tmp := dir + ".tmp-" + local.NewID()
	if err := buildSkeleton(tmp, rt, hook, bc); err != nil {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run renamed its own first: use that one.
		_ = os.RemoveAll(tmp)
		if fi, serr := os.Lstat(dir); serr != nil || !fi.IsDir() {
			return "", err
		}
	}
	return dir, nil
}

func buildSkeleton(dir string, rt *pyrt.Runtime, hook bool, bc *audit.Bytecode) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := writeRootfs(filepath.Join(dir, "root"), rt); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, voidFile), nil, 0); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(dir, voidFile), 0); err != nil {
		return err
	}
	if !hook {
		return nil
	}
	// py: the hook as sitecustomize, for PYTHONPATH (where no site
	// directory can take it); site: the hook as a module and its .pth
	// line, laid over the runtime's site directory (siteOverlay).
	// One site directory for each place the hook may have in a run
	// (toolChoices): its .pth line names that place's channel.
	files := map[string][]byte{"py/sitecustomize.py": []byte(audit.Hook())}
	tag := ""
	if bc != nil {
		// The hook compiled once for this interpreter: Python would
		// otherwise compile it at every start (a read-only directory).
		files["py/"+bc.Name()] = bc.Data
		tag = bc.Tag
	}
	for i, tools := range toolChoices(rt) {
		site := siteDir(i) + "/"
		pth := audit.PthLine(tools + "/audit")
		files[site+audit.Module+".py"] = []byte(audit.Hook())
		files[site+audit.PthFile] = []byte(pth)
		if bc != nil {
			files[site+bc.NameFor(audit.Module)] = bc.Data
		}
		// The editable install's metadata beside its .pth (audit.Dist).
		for name, data := range audit.Dist(pth, audit.Hook(), tag) {
			files[site+name] = []byte(data)
		}
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// skeletonKey hashes everything a skeleton is made of.
func skeletonKey(rt *pyrt.Runtime, hook bool, bc *audit.Bytecode) string {
	h := sha256.New()
	fmt.Fprintf(h, "skeleton %d\x00hook %v\x00", skeletonVersion, hook)
	binds := append([]string(nil), rt.Paths...)
	sort.Strings(binds)
	for _, p := range binds {
		kind := "missing"
		if fi, err := os.Stat(p); err == nil {
			kind = "file"
			if fi.IsDir() {
				kind = "dir"
			}
		}
		fmt.Fprintf(h, "bind %s %s\x00", p, kind)
	}
	links := make([]string, 0, len(rt.Links))
	for l := range rt.Links {
		links = append(links, l)
	}
	sort.Strings(links)
	for _, l := range links {
		fmt.Fprintf(h, "link %s %s\x00", l, rt.Links[l])
	}
	for _, n := range append(slices.Clone(etcNames), egress.EtcFiles()...) {
		fmt.Fprintf(h, "etc %s\x00", n)
	}
	if hook {
		fmt.Fprintf(h, "hook %q\x00", audit.Hook())
		if bc != nil {
			fmt.Fprintf(h, "pyc %s %x\x00", bc.Tag, bc.Data)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// gcSkeletons removes half-built skeletons a killed moat left (older than
// a minute: a live run renames its own within milliseconds). Whole ones
// stay, as the probe cache does: a run may be about to use one.
func gcSkeletons() []string {
	var removed []string
	ents, _ := os.ReadDir(stateBase())
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), skeletonPrefix) || !strings.Contains(e.Name(), ".tmp-") {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		if err := os.RemoveAll(filepath.Join(stateBase(), e.Name())); err == nil || errors.Is(err, os.ErrNotExist) {
			removed = append(removed, "gvisor half-built root "+e.Name())
		}
	}
	return removed
}

// toolChoices are the places a run on a skeleton of rt may give the
// hook (a persona's tools directory, observe.ToolDirs, never in or above
// a path of rt): the skeleton has the mount points of each, and every
// run draws one, so the hook's place differs between runs as native's.
func toolChoices(rt *pyrt.Runtime) []string {
	var out []string
	for _, d := range observe.ToolDirs() {
		p := observe.Persona{Tools: d}
		p.AvoidPaths(append(slices.Collect(maps.Keys(rt.Links)), rt.Paths...))
		if p.Tools == d {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		h := sha256.Sum256([]byte(strings.Join(rt.Paths, "\x00")))
		out = append(out, "/opt/.cache-"+hex.EncodeToString(h[:4]))
	}
	return out
}

// siteDir is the skeleton's site directory for toolChoices' i-th place.
func siteDir(i int) string { return fmt.Sprintf("site-%d", i) }
