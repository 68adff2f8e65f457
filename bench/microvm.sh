#!/usr/bin/env bash
# bench/microvm.sh: boot-to-result of `print(1)` under the microvm backend,
# cold (MOAT_MICROVM_SNAPSHOT=0: a fresh boot each run) and restored (a
# saved guest waiting for work, restored and used once each run), beside
# gVisor and docker doing the same, round robin so that a noisy moment
# falls on all alike; medians in milliseconds, and the microvm's
# breakdowns (MOAT_TRACE=1: QEMU start to channel, guest uptime at ready =
# kernel + agent, job taken, job to exit = Python) of its last runs.
# Under TCG only what was measured is printed; nothing here estimates KVM.
# Usage: bench/microvm.sh [RUNS] (default 5); IMAGE=moat/python:bookworm.
# Run it alone, under nice: QEMU's TCG takes a core per guest.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5}
IMAGE=${IMAGE:-moat/python:bookworm}
[ -n "${NOBUILD:-}" ] || CGO_ENABLED=0 go build -o bench/moat ./cmd/moat
trace=$(mktemp)
trap 'rm -f "$trace" "$trace".*' EXIT

# once ARGS...: one `moat run`, its wall time in ms on stdout.
once() {
  local t0 t1
  t0=$(date +%s%N)
  MOAT_TRACE=1 bench/moat run "$@" -c 'print(1)' >/dev/null 2>"$trace" || { echo "bench: moat run $* failed: $(grep -v '^moat: microvm: ' "$trace" | head -3)" >&2; return 1; }
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

# One run that saves the guest (if no run of this binary did yet).
echo "microvm first run (images built if needed; the guest saved): $(once --isolation microvm) ms"
declare -A ms=()
for _ in $(seq "$N"); do
  ms[microvm-cold]+="$(MOAT_MICROVM_SNAPSHOT=0 once --isolation microvm) "
  grep '^moat: microvm' "$trace" >"$trace.cold" || true
  ms[microvm-restored]+="$(once --isolation microvm) "
  grep '^moat: microvm' "$trace" >"$trace.restored" || true
  ms[gvisor]+="$(once --isolation gvisor) "
  ms[docker]+="$(once --isolation docker --image "$IMAGE") "
done
for b in microvm-cold microvm-restored gvisor docker; do
  echo "$b: median $(tr ' ' '\n' <<<"${ms[$b]}" | grep . | median) ms of $N runs (${ms[$b]% })"
done
for m in cold restored; do
  echo "microvm $m, breakdown of the last run:"
  sed 's/^/  /' "$trace.$m"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
