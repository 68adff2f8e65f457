//go:build !nokube

package report_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/kubernetes"
	"github.com/moat-sandbox/moat/moattest"
)

// kubeBackend is the kubernetes backend on the cluster of
// MOAT_TEST_KUBECONFIG (.ci/kube-up.sh prints it), as backend/kubernetes'
// tests run it; the test skips without one, or fails where CI requires
// the backend.
func kubeBackend(t *testing.T, runtimeClass string) *kubernetes.Backend {
	t.Helper()
	fail := t.Skipf
	if moattest.Required("kubernetes") {
		fail = t.Fatalf
	}
	cfg := os.Getenv("MOAT_TEST_KUBECONFIG")
	if cfg == "" {
		fail("MOAT_TEST_KUBECONFIG is not set: no cluster to run Pods on (.ci/kube-up.sh brings one up and prints its kubeconfig)")
		return nil
	}
	b := &kubernetes.Backend{Kubeconfig: cfg, Image: testImage(), RuntimeClass: runtimeClass}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.Check(ctx); err != nil {
		fail("backend kubernetes is unavailable: %v", err)
	}
	return b
}

// The kubernetes backend in TestBytecodeVerified: the suspect bytecode
// is carried out by moat's init in the Pod and verified in a fresh Pod of
// the run's image and RuntimeClass.
func init() {
	bytecodeBackends = append(bytecodeBackends, bytecodeBackend{"kubernetes", func(t *testing.T) moat.Backend { return kubeBackend(t, "") }, ""})
}

// TestCorpusKubernetes: the corpus in Pods of the cluster, the report
// made by moat's init in the Pod (docs/report.md). Under the gVisor
// RuntimeClass (the default) the Sentry refuses the init's seccomp
// listener and its log is the node's: no kernel events (a
// kernel-events-unavailable event says so), so what only the kernel sees
// is not asserted there (a child interpreter without the hook, raw
// syscalls through ctypes): those run in a runc Pod (degraded, allowed
// for the test), where the init's listener is had. No sinkhole on this
// backend: exfiltration rests on the hook and the diff. A file's first
// MiB is what the init sends, as on docker (big_file.py not carried).
func TestCorpusKubernetes(t *testing.T) {
	t.Parallel()
	b := kubeBackend(t, "")
	t.Run("gvisor", func(t *testing.T) {
		res := runBatch(t, b, []batchCase{
			{file: "steal_aws_post.py", checks: []batchCheck{
				{cat: "credential-access", sev: "high", marker: ".aws/credentials", own: true},
				{cat: "exfiltration", sev: "critical", marker: "aws-secret-access-key) put in a network request (base64)"},
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
			{file: "vsock_host.py", checks: []batchCheck{{cat: "network", sev: "high", marker: "AF_VSOCK", own: true}}},
			{file: "long_body.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: "(hex, reversed)"}}},
			{file: "dns_exfil.py", checks: []batchCheck{{cat: "exfiltration", sev: "critical", marker: ".x.attacker.example"}}},
			{file: "download_exec.py", checks: []batchCheck{{cat: "execution", sev: "high", marker: "/tmp/.cache-update"}}},
			// the hook names a program run by a relative path whole
			{file: "fake_python.py", checks: []batchCheck{
				{cat: "execution", sev: "high", marker: "/tmp/.local/bin/python3"},
				{cat: "execution", sev: "high", marker: "/work/venv/bin/python3"},
				{cat: "execution", sev: "high", marker: "/tmp/.x/bash"},
			}},
			// a dropped binary replaced by the interpreter as it runs,
			// and a script whose #! is a dropped binary (no hello); the
			// interpreter through /proc/self/root says hello: Python,
			// on the hook's word (the only witness here)
			writtenExec("swap_exec.py", "", "/work/fetcher", "/work/updater"),
			writtenExec("script_shebang.py", "", "/work/viaDrop"),
		}, nil)
		if !slices.ContainsFunc(res.Events, func(e moat.Event) bool { return e.Kind == moat.KindKernelEventsUnavailable }) {
			t.Error("no kernel-events-unavailable event under gVisor")
		}
		// a suite's own venvs and helper scripts, removed before the end:
		// each said hello, with its path (the hook's word: no kernel here)
		for _, f := range []string{"script_suite.py", "venv_throwaway.py"} {
			noneAboveLow(t, run(t, b, filepath.Join("testdata", "benign", f), nil))
		}
	})
	// /dev/shm in a gVisor Pod is a Sentry tmpfs (the CI shim's patch),
	// walked by moat's init: what the program leaves there is found.
	t.Run("shm", func(t *testing.T) {
		wantShm(t, run(t, b, filepath.Join("testdata", "corpus", "shm_drop.py"), nil))
	})
	t.Run("runc", func(t *testing.T) {
		runc := kubeBackend(t, kubernetes.Runc)
		runBatch(t, runc, []batchCase{
			{file: "ctypes_syscall.py", checks: []batchCheck{{cat: "evasion", sev: "high", own: true, source: moat.SourceKernel}},
				events: kernelExecOf("/bin/true", true)},
			{file: "ctypes_thread.py", checks: []batchCheck{{cat: "evasion", sev: "high", own: true, source: moat.SourceKernel}},
				events: kernelExecOf("/bin/true", true)},
			{file: "tamper_hook.py", checks: []batchCheck{{cat: "evasion", sev: "medium", marker: "ran without moat's audit hook"}}},
			{file: "bashrc_edit.py", checks: []batchCheck{{cat: "persistence", sev: "high", marker: ".bashrc", source: "fs"}}},
			// what an exec ran, by the init's listener: hashed, with its #! line
			writtenExec("swap_exec.py", moat.SourceKernel, "/work/fetcher", "/work/updater"),
			writtenExec("script_shebang.py", moat.SourceKernel, "/work/viaDrop", "/work/viaProc"),
			{file: "script_nohook.py", checks: []batchCheck{{cat: "evasion", sev: "medium", marker: "ran without moat's audit hook"}}},
		}, func(s *moat.Spec) { s.AllowDegraded = true })
		// a suite's own venvs and helper scripts, removed before the end:
		// nothing above low where the listener reads what ran
		for _, f := range []string{"script_suite.py", "venv_throwaway.py"} {
			noneAboveLow(t, run(t, runc, filepath.Join("testdata", "benign", f), func(s *moat.Spec) { s.AllowDegraded = true }))
		}
	})
	t.Run("miner", func(t *testing.T) {
		res := run(t, b, filepath.Join("testdata", "corpus", "miner.py"), func(s *moat.Spec) { s.Limits.Timeout = 2 * time.Second })
		if !has(res.Findings, moat.CategoryResourceAbuse, moat.SeverityMedium) {
			dump(t, res)
			t.Error("no resource-abuse finding of severity medium or more")
		}
	})
	// The hook is on PYTHONPATH in every Pod (docs/report.md): that tell
	// is known; the persona's are not.
	// a daemon started before the timeout: moat's init lists it at the
	// stop, before it kills the Pod's processes
	t.Run("daemon-stopped", func(t *testing.T) { daemonStopped(t, b) })
	t.Run("daemon-limit", func(t *testing.T) { daemonLimited(t, b) })
	// Its Pods run under gVisor's RuntimeClass: gVisor's tells too (a
	// pool's Pod, its Sentry's boot time, may serve more than one run);
	// the Pod's loader writes /etc/passwd and /etc/group with the
	// persona's lines at the Pod's start (their times then).
	t.Run("tells", func(t *testing.T) {
		noTells(t, b, nil, append(gvisorTells, "the C environment has PYTHONPATH", "the boot time", "/etc/passwd was modified", "/etc/group was modified")...)
	})
	t.Run("benign", func(t *testing.T) { benign(t, b, "kernel-side") })
}
