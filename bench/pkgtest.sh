#!/usr/bin/env bash
# bench/pkgtest.sh: time the import and test phases of `moat test` on a small
# package (pkgtest/testdata/projects/calc) under the native sandbox, beside
# the same steps run bare in a venv on the host. Medians of N runs (ms).
# Usage: bench/pkgtest.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
py=/usr/bin/python3
proj=pkgtest/testdata/projects/calc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/moat" ./cmd/moat

# Bare: the same venv (system site-packages), the same install, then the
# import and pytest steps timed alone.
"$py" -m venv --system-site-packages --without-pip "$tmp/venv"
cp -r "$proj" "$tmp/src"
"$tmp/venv/bin/python" -m pip install -q --no-index --no-build-isolation --disable-pip-version-check "$tmp/src" >/dev/null
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
: >"$tmp/bare"
: >"$tmp/moat.json"
for _ in $(seq "$n"); do
  imp=$(ms "$tmp/venv/bin/python" -c 'import importlib.metadata as md; [d.files for d in md.distributions()]; import calc')
  tst=$(cd "$tmp/src" && ms "$tmp/venv/bin/python" -m pytest -p no:cacheprovider -o junit_family=xunit2 --junitxml="$tmp/junit.xml")
  echo "$imp $tst" >>"$tmp/bare"
  s=$(date +%s%N)
  "$tmp/moat" test --isolation native --quiet --json "$proj" >>"$tmp/moat.json" || true
  e=$(date +%s%N)
  echo "WALL $(((e - s) / 1000000))" >>"$tmp/moat.json"
done
"$py" - "$tmp/bare" "$tmp/moat.json" "$n" <<'PY'
import json, statistics, sys
bare = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
txt = open(sys.argv[2]).read()
walls = [int(l.split()[1]) for l in txt.splitlines() if l.startswith("WALL ")]
dec, docs, i = json.JSONDecoder(), [], 0
body = "\n".join(l for l in txt.splitlines() if not l.startswith("WALL "))
while i < len(body):
    while i < len(body) and body[i].isspace(): i += 1
    if i >= len(body): break
    d, i = dec.raw_decode(body, i); docs.append(d)
ph = lambda name: [next(p["duration_ms"] for p in d["phases"] if p["name"] == name) for d in docs]
med = statistics.median
print(f"runs: {sys.argv[3]} (medians, ms)")
print(f"{'step':8} {'bare venv':>10} {'moat native':>12} {'overhead':>9}")
for k, name in ((0, "import"), (1, "test")):
    b, m = med([r[k] for r in bare]), med(ph(name))
    print(f"{name:8} {b:10.0f} {m:12.0f} {m - b:+9.0f}")
print(f"{'venv':8} {'':>10} {med(ph('venv')):12.0f}")
print(f"{'install':8} {'':>10} {med(ph('install')):12.0f}")
print(f"whole `moat test` wall clock: {med(walls):.0f} ms")
PY
