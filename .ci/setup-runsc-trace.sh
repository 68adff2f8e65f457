#!/usr/bin/env bash
# gVisor --image's kernel witness: runsc as Docker's runtime (runsc and
# runsc-hostinet) traces execs, connects, forks, sockets, changes of
# working directory (chdir, fchdir: a relative exec named whole) and ports
# opened (bind, listen), and logs at
# debug level the calls its OCI profile refuses, to one boot log per
# container in /var/log/moat-runsc/, which moat reads and removes after
# each of its runs (backend/docker, backend/internal/sentry). The other
# flags stay as .ci/run and .ci/setup-gvsink.sh registered them. A running
# dockerd reloads its runtimes on SIGHUP. Idempotent.
set -euo pipefail
install -d -m 0700 /var/log/moat-runsc
# The logs grow while a container runs (a program can make as many traced
# calls as it likes): a sized tmpfs bounds them, so a run cannot fill the
# host's disk (moat counts a full directory as a cut trace).
if ! mountpoint -q /var/log/moat-runsc; then
  mount -t tmpfs -o size=256m,mode=0700,nosuid,nodev,noexec moat-runsc /var/log/moat-runsc
fi
changed=$(python3 - <<'PY'
import json, os
p = "/etc/docker/daemon.json"
cfg = json.load(open(p)) if os.path.exists(p) and os.path.getsize(p) else {}
trace = ["--debug", "--strace", "--strace-syscalls=execve,execveat,connect,clone,fork,vfork,socket,chdir,fchdir,bind,listen",
         "--debug-log=/var/log/moat-runsc/", "--debug-command=boot"]
flags = ("--debug", "--strace", "--debug-log", "--debug-command")
out = ""
for name in ("runsc", "runsc-hostinet"):
    rt = cfg.get("runtimes", {}).get(name)
    if rt is None:
        continue
    args = [a for a in rt.get("runtimeArgs", []) if a.split("=")[0] not in flags and not a.startswith("--strace-syscalls=")] + trace
    if rt.get("runtimeArgs") != args:
        rt["runtimeArgs"] = args
        out = "yes"
if out:
    open(p, "w").write(json.dumps(cfg, indent=2))
print(out)
PY
)
traced() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q 'moat-runsc'; }
if [ -n "$changed" ] || ! traced; then
  [ -e /var/run/docker.pid ] && kill -HUP "$(cat /var/run/docker.pid)"
  for _ in $(seq 20); do traced && exit 0; sleep 0.5; done
  echo "ci: dockerd did not take runsc's trace flags (/etc/docker/daemon.json)" >&2; exit 1
fi
