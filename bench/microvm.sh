#!/usr/bin/env bash
# bench/microvm.sh: boot-to-result of `print(1)` under the microvm backend
# (cold: images built; then cached images, a fresh VM each run) beside
# gVisor and docker doing the same, round robin so that a noisy moment
# falls on all alike; medians in milliseconds, and the microvm's breakdown
# (MOAT_TRACE=1: QEMU start to channel, guest uptime at ready = kernel +
# agent, job to exit = Python) of its last run.
# There is no restored-snapshot mode yet (docs/microvm.md). Under TCG only
# what was measured is printed; nothing here estimates KVM.
# Usage: bench/microvm.sh [RUNS] (default 5); IMAGE=moat/python:bookworm.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5}
IMAGE=${IMAGE:-moat/python:bookworm}
[ -n "${NOBUILD:-}" ] || CGO_ENABLED=0 go build -o bench/moat ./cmd/moat
trace=$(mktemp)
trap 'rm -f "$trace"' EXIT

# once ARGS...: one `moat run`, its wall time in ms on stdout.
once() {
  local t0 t1
  t0=$(date +%s%N)
  MOAT_TRACE=1 bench/moat run "$@" -c 'print(1)' >/dev/null 2>"$trace" || { echo "bench: moat run $* failed: $(grep -v '^moat: microvm: [aj]' "$trace" | head -3)" >&2; return 1; }
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

rm -f "${XDG_CACHE_HOME:-$HOME/.cache}"/moat/microvm/initrd-*.cpio
echo "microvm cold (initramfs built, runtime image cached if present): $(once --isolation microvm) ms"
declare -A ms=()
for _ in $(seq "$N"); do
  ms[microvm]+="$(once --isolation microvm) "
  grep '^moat: microvm' "$trace" >"$trace.last" || true
  ms[gvisor]+="$(once --isolation gvisor) "
  ms[docker]+="$(once --isolation docker --image "$IMAGE") "
done
for b in microvm gvisor docker; do
  echo "$b: median $(tr ' ' '\n' <<<"${ms[$b]}" | grep . | median) ms of $N runs (${ms[$b]% })"
done
echo "microvm breakdown of the last run:"
sed 's/^/  /' "$trace.last"; rm -f "$trace.last"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
