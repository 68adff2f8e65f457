package report_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/moattest"
)

// A batch runs several corpus programs in one sandbox, one after the
// other, each a child interpreter of its own started by batchDriver: on
// a backend whose every run boots a guest in software (the micro-VM
// under TCG) or schedules a Pod, one run of twelve programs costs what
// two runs of one do. What each program must yield is still asserted of
// that program: a check names what only it does in its batch (a marker:
// its file, address, encoding), or asks for evidence of its own process
// (own: the pid the kernel's exec of it, or its hook's hello, names).

// batchDriver runs each file named by its arguments with this
// interpreter, in order, and goes on whatever one does.
const batchDriver = `import subprocess, sys
for f in sys.argv[1:]:
    print("== " + f, flush=True)
    try:
        subprocess.run([sys.executable, f], timeout=300)
    except Exception as e:
        print("batch:", f, e, flush=True)
`

// batchCase is a corpus program of a batch and what it must yield.
type batchCase struct {
	file   string
	checks []batchCheck
	// events, where set, asserts more of the run's events; pid is the
	// program's.
	events func(t *testing.T, res *moat.Result, pid int)
}

// batchCheck asks for a finding of a category of at least a severity.
type batchCheck struct {
	cat, sev string
	// marker is in the finding's summary or in the path, address, name or
	// detail of one of its evidence events.
	marker string
	// own: one of its evidence events is of the program's process.
	own bool
	// source, where set, is the source of one of its evidence events
	// (moat's own: network, kernel, fs).
	source moat.Source
}

// writtenExec is the case of file, which runs files it wrote that must
// each be a high execution finding naming them (paths), one of its
// evidence events of source where that is set.
func writtenExec(file string, source moat.Source, paths ...string) batchCase {
	c := batchCase{file: file}
	for _, p := range paths {
		c.checks = append(c.checks, batchCheck{cat: "execution", sev: "high", marker: p, source: source})
	}
	return c
}

func (c batchCheck) String() string {
	s := c.cat + " " + c.sev
	if c.marker != "" {
		s += " naming " + c.marker
	}
	if c.own {
		s += " on evidence of its own process"
	}
	if c.source != "" {
		s += " on " + string(c.source) + " evidence"
	}
	return s
}

func (c batchCheck) match(f moat.Finding, pid int) bool {
	if f.Category != moat.Category(c.cat) || f.Severity.Rank() < moat.Severity(c.sev).Rank() {
		return false
	}
	marker := c.marker == "" || strings.Contains(f.Summary, c.marker)
	own, source := !c.own, c.source == ""
	for _, e := range f.Evidence {
		marker = marker || strings.Contains(e.Path+"\x00"+e.Addr+"\x00"+e.Name+"\x00"+e.Detail, c.marker)
		own = own || (pid > 0 && e.PID == pid)
		source = source || e.Source == c.source
	}
	return marker && own && source
}

// batchPID is the pid of the interpreter the driver started for file:
// the kernel's exec of it, or its hook's hello (where no kernel event is
// had); 0 if neither is in the events.
func batchPID(res *moat.Result, file string) int {
	for _, e := range res.Events {
		// the hook's hello gives the command line after the interpreter
		f := strings.Fields(e.Path + " " + e.Detail)
		if len(f) >= 2 && f[len(f)-1] == file && !slices.Contains(f, "batch.py") && e.PID > 0 &&
			((e.Source == moat.SourceKernel && e.Kind == moat.KindExec) || (e.Source == moat.SourceAudit && e.Kind == moat.KindHello)) {
			return e.PID
		}
	}
	return 0
}

// runBatch runs cases' programs in one run of b and checks each.
func runBatch(t *testing.T, b moat.Backend, cases []batchCase, mod func(*moat.Spec)) *moat.Result {
	t.Helper()
	spec := &moat.Spec{Args: []string{"batch.py"}, Files: map[string][]byte{"batch.py": []byte(batchDriver)},
		Limits: moat.Limits{Timeout: 15 * time.Minute}}
	for _, c := range cases {
		src, err := os.ReadFile(filepath.Join("testdata", "corpus", c.file))
		if err != nil {
			t.Fatal(err)
		}
		spec.Args = append(spec.Args, c.file)
		spec.Files[c.file] = src
	}
	if mod != nil {
		mod(spec)
	}
	start := time.Now()
	res, err := b.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	t.Logf("a batch of %d programs: %s", len(cases), time.Since(start).Round(time.Second))
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		dump(t, res)
		t.Fatalf("batch: status %s exit %d", res.Status, res.ExitCode)
	}
	dumped := false
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".py"), func(t *testing.T) {
			pid := batchPID(res, c.file)
			if !strings.Contains(res.Stdout, "== "+c.file+"\n") || pid == 0 {
				t.Fatalf("the batch did not start %s (pid %d)", c.file, pid)
			}
			for _, ch := range c.checks {
				if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool { return ch.match(f, pid) }) {
					if !dumped {
						dump(t, res)
						dumped = true
					}
					t.Errorf("no %s", ch)
				}
			}
			if c.events != nil {
				c.events(t, res, pid)
			}
		})
	}
	return res
}

// kernelExecOf fails t unless the kernel saw pid execute path (with its
// sha256, if hashed).
func kernelExecOf(path string, hashed bool) func(t *testing.T, res *moat.Result, pid int) {
	return func(t *testing.T, res *moat.Result, pid int) {
		t.Helper()
		for _, e := range res.Events {
			if e.Source == moat.SourceKernel && e.Kind == moat.KindExec && e.Path == path && (!hashed || len(e.SHA256) == 64) {
				return
			}
		}
		t.Errorf("no kernel exec event of %s (hashed %v)", path, hashed)
	}
}

// floodHidesNothing: the payload's exec and connect that follow a flood
// of failing execs are kept, and the flood's own are counted as dropped.
func floodHidesNothing(t *testing.T, res *moat.Result, _ int) {
	t.Helper()
	var exec, conn bool
	for _, e := range res.Events {
		exec = exec || (e.Source == moat.SourceKernel && e.Kind == moat.KindExec && strings.Contains(e.Detail, "cat /etc/shadow"))
		conn = conn || (e.Source == moat.SourceKernel && e.Kind == moat.KindConnect && e.Addr == "203.0.113.7:443")
	}
	if !exec || !conn || res.EventsDropped == 0 {
		t.Errorf("payload exec kept %v, connect kept %v, dropped %d", exec, conn, res.EventsDropped)
	}
}

// TestCorpusMicroVM: the corpus in the micro-VM, where the report is
// made in the guest (the hook, the agent's seccomp listener on the guest
// kernel, the guest kernel's witness of the planted files, the agent's
// diff) and the sinkhole ends every flow in the agent. Under TCG a run is
// tens of seconds, so the programs run in two batches: with the sinkhole
// (the sink's evidence of exfiltration), and with the userland (a shell,
// /bin/true), which `moat test` has. Then a benign program. Its tells are
// backend/microvm's TestTells.
func TestCorpusMicroVM(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "microvm")
	// As backend/microvm's TestMicroVM: under TCG (minutes), only where
	// asked for or required (CI).
	if ap, ok := b.(moat.AutoPicker); ok && ap.AutoPick(context.Background()) != nil &&
		!moattest.Required("microvm") && os.Getenv("MOAT_TEST_MICROVM") != "1" {
		t.Skip("the corpus under TCG boots its guests in software: set MOAT_TEST_MICROVM=1 or require microvm")
	}
	t.Run("sinkhole", func(t *testing.T) {
		runBatch(t, b, []batchCase{
			{file: "steal_aws_post.py", checks: []batchCheck{
				{cat: "credential-access", sev: "high", marker: ".aws/credentials", own: true},
				{cat: "exfiltration", sev: "critical", marker: "aws-secret-access-key) sent over the network (base64)", source: moat.SourceNetwork},
				{cat: "network", sev: "medium", marker: "203.0.113.5"},
			}},
			{file: "pth_persistence.py", checks: []batchCheck{
				{cat: "persistence", sev: "high", marker: "zz_helper.pth", source: "fs"},
				{cat: "persistence", sev: "high", marker: ".bashrc", source: "fs"},
			}},
			{file: "pth_hidden.py", checks: []batchCheck{
				{cat: "persistence", sev: "high", marker: "aa_padded.pth"},
				{cat: "persistence", sev: "high", marker: "bb_big.pth"},
				{cat: "persistence", sev: "high", marker: "zz_late.pth"},
			}},
			{file: "vsock_host.py", checks: []batchCheck{{cat: "network", sev: "high", marker: "AF_VSOCK", own: true, source: moat.SourceKernel}}},
			{file: "long_body.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "(hex, reversed)"}}},
			{file: "dns_exfil.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: ".x.attacker.example", source: moat.SourceNetwork}}},
			{file: "big_file.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "cache.bin", source: "fs"}}},
			{file: "download_exec.py", checks: []batchCheck{{cat: "execution", sev: "high", marker: "/tmp/.cache-update"}},
				events: kernelExecOf("/tmp/.cache-update", true)},
		}, func(s *moat.Spec) { s.Network = moat.NetworkSinkhole })
	})
	// The red team's cases of session 22, apart: under TCG, run alone.
	t.Run("sinkhole-redteam22", func(t *testing.T) {
		runBatch(t, b, []batchCase{
			{file: "imds_mapped.py", checks: []batchCheck{{cat: "credential-access", sev: "high", marker: "metadata service"}}},
			{file: "memfd_native.py", checks: []batchCheck{{cat: "execution", sev: "high", marker: "held only by a descriptor"}}},
			{file: "evasive_unicode.py", checks: []batchCheck{
				{cat: "exfiltration", sev: "critical", marker: "printed to stdout (zero-width bits"},
				{cat: "exfiltration", sev: "critical", marker: "printed to stderr (tag characters)"},
				{cat: "exfiltration", sev: "critical", marker: "sent over the network (escaped, unicode letters)", source: moat.SourceNetwork},
				{cat: "exfiltration", sev: "critical", marker: "written to /tmp/ps.txt (base64, utf-16)", source: "fs"},
				{cat: "exfiltration", sev: "critical", marker: "written to /work/cache.zip (zip)", source: "fs"},
				{cat: "exfiltration", sev: "critical", marker: "written to /tmp/m.txt (morse, case-changed)", source: "fs"},
				{cat: "exfiltration", sev: "critical", marker: "written to /tmp/b100.txt (code points, add 0xf7)", source: "fs"},
			}},
			// the hook's lookups and the sink's make one channel: its evidence may be the hook's first twelve
			{file: "dns_case.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "(letter case bits"}}},
			{file: "ws_exfil.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "(escaped, websocket frames)", source: moat.SourceNetwork}}},
			{file: "dns_extra.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "(escaped, xor 0x21", source: moat.SourceNetwork}}},
			{file: "size_exfil.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "sizes of the datagrams", source: moat.SourceNetwork}}},
			{file: "oob_exfil.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "sent over the network (", source: moat.SourceNetwork}}},
		}, func(s *moat.Spec) { s.Network = moat.NetworkSinkhole })
	})
	// Session 23's forms (HTTP/2, EDNS options, query types, substitution alphabets), apart.
	t.Run("sinkhole-wire23", func(t *testing.T) {
		runBatch(t, b, []batchCase{
			{file: "h2c_exfil.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "sent over the network (raw)", source: moat.SourceNetwork}}},
			{file: "h2_exfil.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "sent over the network (raw)", source: moat.SourceNetwork}}},
			{file: "subst_exfil.py", checks: []batchCheck{
				{cat: "exfiltration", sev: "critical", marker: "sent over the network (base64 (own alphabet))", source: moat.SourceNetwork},
				{cat: "exfiltration", sev: "critical", marker: "written to /tmp/p.txt (substitution)", source: "fs"},
				{cat: "exfiltration", sev: "critical", marker: "printed to stdout (reversed, substitution)"},
			}},
			{file: "dns_qtype.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "encoded in the types of the DNS queries below img-cdn.net", source: moat.SourceNetwork}}},
			{file: "dns_edns.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "split over the records of DNS queries below cdn-assets.net", source: moat.SourceNetwork}}},
		}, func(s *moat.Spec) { s.Network = moat.NetworkSinkhole })
	})
	// Apart: a token is found once a channel (stdout, stderr), in the
	// first form found, and these print the ones evasive_unicode prints.
	t.Run("print-redteam22", func(t *testing.T) {
		runBatch(t, b, []batchCase{
			{file: "ansi_exfil.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "printed to stdout (as shown)"},
				{cat: "exfiltration", sev: "critical", marker: "printed to stderr (as shown)"}}},
		}, nil)
		runBatch(t, b, []batchCase{
			{file: "grouped_exfil.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "printed to stdout (groups joined, base64)"},
				{cat: "exfiltration", sev: "critical", marker: "written to /tmp/uuid.txt (groups joined, hex)", source: "fs"}}},
		}, nil)
	})
	t.Run("userland-redteam22", func(t *testing.T) {
		runBatch(t, b, []batchCase{writtenExec("exec_spelled.py", "", "/tmp/.c/a", "/tmp/.c/b"),
			{file: "exec_procpath.py", checks: []batchCheck{{cat: "execution", sev: "high", marker: "/proc/self/cwd/a"}}}}, userland)
	})
	// A listening backdoor (session 23): the agent's listener sees the
	// bind and the listen, and the shell's stdio on the accepted socket.
	t.Run("listen", func(t *testing.T) {
		runBatch(t, b, []batchCase{
			{file: "bind_shell.py", checks: []batchCheck{
				{cat: "network", sev: "medium", marker: "0.0.0.0:4444", own: true, source: moat.SourceKernel},
				{cat: "network", sev: "medium", marker: "0.0.0.0:5005", own: true, source: moat.SourceKernel},
				{cat: "execution", sev: "critical", marker: "listened on 0.0.0.0:4444 (listen", own: true, source: moat.SourceKernel},
			}},
			{file: "bind_shell_ctypes.py", checks: []batchCheck{
				{cat: "network", sev: "medium", marker: "0.0.0.0:4445", own: true, source: moat.SourceKernel},
				{cat: "execution", sev: "critical", marker: "listened on 0.0.0.0:4445 (listen", own: true, source: moat.SourceKernel},
				{cat: "evasion", sev: "high", marker: "0.0.0.0:4445", own: true, source: moat.SourceKernel},
			}},
		}, userland)
		noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", "local_server.py"), func(s *moat.Spec) { s.Limits.Timeout = 5 * time.Minute }))
	})
	// Session 23: the exec's name raced against the witness's read.
	t.Run("userland-race23", func(t *testing.T) {
		runBatch(t, b, []batchCase{{file: "exec_race.py", checks: []batchCheck{
			{cat: "evasion", sev: "high", marker: "ran another file than the one the kernel's witness read", source: moat.SourceKernel},
			{cat: "execution", sev: "high", marker: "/tmp/.r/evil"}}}}, userland)
	})
	// Apart from the batch above: tamper_hook's standard library of its
	// own is hundreds of files, whose diff crowded big_file's secret out
	// of the guest's read budget.
	t.Run("sinkhole-hook", func(t *testing.T) {
		runBatch(t, b, []batchCase{
			// its child python -S with a standard library of its own never
			// says hello; the one in this batch that starts a Python
			// without the hook
			{file: "tamper_hook.py", checks: []batchCheck{{cat: "evasion", sev: "medium", marker: "ran without moat's audit hook"}}},
			// its children -S, -I, -E run the hook (from the runtime
			// image's encodings package)
			{file: "nosite_child.py", checks: []batchCheck{{cat: "credential-access", sev: "high", marker: ".aws/credentials"}}, events: noSiteChildren},
		}, func(s *moat.Spec) { s.Network = moat.NetworkSinkhole })
	})
	t.Run("userland", func(t *testing.T) {
		runBatch(t, b, []batchCase{
			{file: "fake_python.py", checks: []batchCheck{
				{cat: "execution", sev: "high", marker: "/tmp/.local/bin/python3"},
				{cat: "execution", sev: "high", marker: "/work/venv/bin/python3"},
				{cat: "execution", sev: "high", marker: "/tmp/.x/bash"},
			}},
			writtenExec("script_shebang.py", "", "/work/viaDrop", "/work/viaProc"),
			writtenExec("swap_exec.py", "", "/work/fetcher", "/work/updater"),
			{file: "script_nohook.py", checks: []batchCheck{{cat: "evasion", sev: "medium", marker: "ran without moat's audit hook"}}},
			{file: "bashrc_edit.py", checks: []batchCheck{{cat: "persistence", sev: "high", marker: ".bashrc", source: "fs"}}},
			{file: "ctypes_syscall.py", checks: []batchCheck{{cat: "evasion", sev: "high", own: true, source: moat.SourceKernel}},
				events: kernelExecOf("/bin/true", false)},
			{file: "ctypes_thread.py", checks: []batchCheck{{cat: "evasion", sev: "high", own: true, source: moat.SourceKernel}},
				events: kernelExecOf("/bin/true", false)},
			{file: "exec_flood.py", checks: []batchCheck{
				{cat: "evasion", sev: "medium", marker: "a flood that fills event budgets"},
				{cat: "network", sev: "medium", marker: "203.0.113.7:443"},
				{cat: "credential-access", sev: "high", marker: "/etc/shadow"},
			}, events: floodHidesNothing},
			// last: its daemon still sleeps when the batch ends
			{file: "daemonize.py", checks: []batchCheck{{cat: "evasion", sev: "medium", marker: "daemonized"}}},
		}, userland)
	})
	// a daemon started before the timeout: the agent lists it at the
	// stop, before it kills the program's cgroup (the timeout is the
	// guest's under TCG: its interpreter starts in seconds)
	t.Run("daemon-stopped", func(t *testing.T) { daemonStoppedAfter(t, b, 40*time.Second) })
	t.Run("daemon-limit", func(t *testing.T) { daemonLimited(t, b) })
	t.Run("port-exfil", func(t *testing.T) { wantPortExfil(t, b, moat.NetworkSinkhole) })
	// failed-reverse-shell is not run here: the agent reads a failed
	// exec's stdio since session 23, untried under the micro-VM
	// (TestCorpusFailedReverseShell: native, docker, podman)
	t.Run("dns-numbered", func(t *testing.T) {
		wantDNSNumbered(t, run(t, b, filepath.Join("testdata", "corpus", "dns_numbered.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Limits.Timeout = 3 * time.Minute
		}))
	})
	t.Run("domain-front", func(t *testing.T) {
		wantDomainFront(t, run(t, b, filepath.Join("testdata", "corpus", "domain_front.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Limits.Timeout = 3 * time.Minute
		}))
	})
	t.Run("download-run", func(t *testing.T) {
		wantDownloadRun(t, run(t, b, filepath.Join("testdata", "corpus", "download_run.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Userland = true
			s.Limits.Timeout = 3 * time.Minute
		}))
	})
	t.Run("hello-stager", func(t *testing.T) {
		wantHelloStager(t, run(t, b, filepath.Join("testdata", "corpus", "hello_stager.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Limits.Timeout = 3 * time.Minute
		}))
	})
	t.Run("dropper-chain", func(t *testing.T) {
		wantDropperChain(t, run(t, b, filepath.Join("testdata", "corpus", "dropper_chain.py"), func(s *moat.Spec) {
			s.Network = moat.NetworkSinkhole
			s.Userland = true
			s.Limits.Timeout = 3 * time.Minute
		}))
	})
	t.Run("inproc-shell", func(t *testing.T) { wantInProcessShell(t, b) })
	t.Run("benign", func(t *testing.T) { benign(t, b, "guest kernel") })
	t.Run("nosite-suite", func(t *testing.T) {
		noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", "nosite_suite.py"), func(s *moat.Spec) { s.Limits.Timeout = 5 * time.Minute }))
	})
	t.Run("venv-suite", func(t *testing.T) {
		noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", "venv_suite.py"), func(s *moat.Spec) { s.Limits.Timeout = 5 * time.Minute }))
	})
	t.Run("script-suite", func(t *testing.T) {
		noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", "script_suite.py"), func(s *moat.Spec) { userland(s); s.Limits.Timeout = 5 * time.Minute }))
	})
	t.Run("venv-throwaway", func(t *testing.T) {
		noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", "venv_throwaway.py"), func(s *moat.Spec) { s.Limits.Timeout = 5 * time.Minute }))
	})
}

// benign runs a benign program on b: it must exit 0, say hello from the
// hook and yield nothing above low, and the behaviour-report layer must
// say kernel.
func benign(t *testing.T, b moat.Backend, kernel string) {
	res := run(t, b, filepath.Join("testdata", "benign", "fileio.py"), nil)
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		dump(t, res)
		t.Fatalf("status %s exit %d", res.Status, res.ExitCode)
	}
	hello := false
	for _, e := range res.Events {
		hello = hello || (e.Source == "audit" && e.Kind == "hello")
	}
	if !hello {
		dump(t, res)
		t.Error("the audit hook never said hello")
	}
	for _, f := range res.Findings {
		if f.Severity.Rank() > moat.SeverityLow.Rank() {
			dump(t, res)
			t.Errorf("benign program got %s %s: %s", f.Severity, f.Category, f.Summary)
		}
	}
	layer := ""
	for _, l := range res.Layers {
		if l.Name == "behaviour-report" {
			layer = l.Detail
		}
	}
	if !strings.Contains(layer, kernel) {
		t.Errorf("behaviour-report layer %q does not say %q", layer, kernel)
	}
}
