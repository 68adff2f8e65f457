#!/usr/bin/env bash
# bench/containers.sh: time moat's container backends beside their bare
# peers doing the same trivial Python run, and print medians and ratios.
#   docker run --rm IMAGE python3 -c pass   vs  moat run --isolation docker --image IMAGE -c pass
#   podman run --rm IMAGE python3 -c pass   vs  moat run --isolation podman --image IMAGE -c pass
# Bare peers run with --network none, as moat does (a bridge costs more
# than all of moat). The bare podman run gets the same --ulimit values moat
# passes (podman's defaults cannot be granted where root lacks
# CAP_SYS_RESOURCE). Each pair runs round robin (bare, moat, bare, ...), so
# a noisy moment of the machine falls on both alike.
# Usage: bench/containers.sh [RUNS] (default 20); IMAGE=moat/python:bookworm.
# MOAT_TRACE=1 bench/moat run --isolation podman ... shows where one run's
# time goes (the bootstrap's own steps included).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
IMAGE=${IMAGE:-moat/python:bookworm}
[ -n "${NOBUILD:-}" ] || CGO_ENABLED=0 go build -o bench/moat ./cmd/moat

# once CMD...: one run, its wall time in microseconds on stdout.
once() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>/tmp/bench-containers.err || { echo "bench: $* failed: $(head -3 /tmp/bench-containers.err)" >&2; return 1; }
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}

# pair NAME -- BARE... -- MOAT...: N rounds of one bare and one moat run
# after 2 warm-up rounds; sets BARE_MS and MOAT_MS to the medians.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'; }
pair() {
  local bare=() moat=() i t
  shift # NAME
  local sep=0 b=() m=()
  for a in "$@"; do
    if [[ $a == -- ]]; then sep=$((sep + 1)); continue; fi
    if ((sep == 1)); then b+=("$a"); else m+=("$a"); fi
  done
  for ((i = 0; i < N + 2; i++)); do
    t=$(once "${b[@]}") || return 1
    ((i >= 2)) && bare+=("$t")
    t=$(once "${m[@]}") || return 1
    ((i >= 2)) && moat+=("$t")
  done
  BARE_MS=$(median "${bare[@]}")
  MOAT_MS=$(median "${moat[@]}")
}

row() { printf '%-34s %9s ms\n' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }

echo "image $IMAGE, $N runs each, round robin (medians)"
if docker info >/dev/null 2>&1; then
  pair docker -- docker run --rm --network none "$IMAGE" python3 -c pass \
    -- bench/moat run --isolation docker --image "$IMAGE" -c pass
  row "docker run --rm (bare)" "$BARE_MS"
  row "moat --isolation docker" "$MOAT_MS"
  echo "docker: moat/bare = $(ratio "$MOAT_MS" "$BARE_MS")"
else
  echo "docker: daemon not reachable, skipped" >&2
fi
if command -v podman >/dev/null; then
  pair podman -- podman run --rm --network none --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$IMAGE" python3 -c pass \
    -- bench/moat run --isolation podman --image "$IMAGE" -c pass
  row "podman run --rm (bare, rootful)" "$BARE_MS"
  row "moat --isolation podman" "$MOAT_MS"
  echo "podman: moat/bare = $(ratio "$MOAT_MS" "$BARE_MS")"
fi
