#!/usr/bin/env bash
# gVisor's sinkhole in image mode: runsc registered with Docker a second
# time, as runsc-hostinet, with --network=host (the Sentry's sockets are
# the host kernel's, in the container's network namespace, where moat
# serves the sink); the other flags as .ci/run registers runsc with. A
# running dockerd reloads its runtimes on SIGHUP (no restart: nothing
# running is disturbed). Idempotent.
set -euo pipefail
changed=$(python3 - <<'PY'
import json, os
p = "/etc/docker/daemon.json"
cfg = json.load(open(p)) if os.path.exists(p) and os.path.getsize(p) else {}
rts = cfg.setdefault("runtimes", {})
base = rts.get("runsc", {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--oci-seccomp"]})
args = [a for a in base.get("runtimeArgs", []) if not a.startswith("--network=")] + ["--network=host"]
want = {"path": base["path"], "runtimeArgs": args}
if rts.get("runsc-hostinet") != want:
    rts["runsc-hostinet"] = want
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "w").write(json.dumps(cfg, indent=2))
    print("yes")
PY
)
runtimes() { docker info --format '{{json .Runtimes}}' 2>/dev/null || true; }
if [ -n "$changed" ] || ! runtimes | grep -q runsc-hostinet; then
  [ -e /var/run/docker.pid ] && kill -HUP "$(cat /var/run/docker.pid)"
  for _ in $(seq 20); do runtimes | grep -q runsc-hostinet && exit 0; sleep 0.5; done
  echo "ci: dockerd did not take the runtime runsc-hostinet (/etc/docker/daemon.json)" >&2; exit 1
fi
