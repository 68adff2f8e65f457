#!/usr/bin/env bash
# bench/containers.sh: time moat's container backends beside their bare
# peers doing the same trivial Python run, and print medians and ratios.
#   docker run --rm IMAGE python3 -c pass   vs  moat run --isolation docker --image IMAGE -c pass
#   podman run --rm IMAGE python3 -c pass   vs  moat run --isolation podman --image IMAGE -c pass
# Bare peers run with --network none, as moat does (a bridge costs more
# than all of moat). The bare podman run gets the same --ulimit values moat
# passes (podman's
# defaults cannot be granted where root lacks CAP_SYS_RESOURCE).
# Usage: bench/containers.sh [RUNS] (default 20); IMAGE=moat/python:bookworm.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
IMAGE=${IMAGE:-moat/python:bookworm}
CGO_ENABLED=0 go build -o bench/moat ./cmd/moat

# median CMD...: N timed runs after 2 warm-ups, median in ms.
median() {
  local ts=() i t0 t1
  for ((i = 0; i < N + 2; i++)); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>/tmp/bench-containers.err || { echo "bench: $* failed: $(head -3 /tmp/bench-containers.err)" >&2; return 1; }
    t1=$(date +%s%N)
    ((i >= 2)) && ts+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

row() { printf '%-34s %9s ms\n' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }

echo "image $IMAGE, $N runs each (medians)"
if docker info >/dev/null 2>&1; then
  bd=$(median docker run --rm --network none "$IMAGE" python3 -c pass)
  md=$(median bench/moat run --isolation docker --image "$IMAGE" -c pass)
  row "docker run --rm (bare)" "$bd"
  row "moat --isolation docker" "$md"
  echo "docker: moat/bare = $(ratio "$md" "$bd")"
else
  echo "docker: daemon not reachable, skipped" >&2
fi
if command -v podman >/dev/null; then
  bp=$(median podman run --rm --network none --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$IMAGE" python3 -c pass)
  mp=$(median bench/moat run --isolation podman --image "$IMAGE" -c pass)
  row "podman run --rm (bare, rootful)" "$bp"
  row "moat --isolation podman" "$mp"
  echo "podman: moat/bare = $(ratio "$mp" "$bp")"
fi
