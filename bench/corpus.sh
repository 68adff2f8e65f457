#!/usr/bin/env bash
# bench/corpus.sh: run `moat test --isolation native` (MOAT_CORPUS_ISOLATION
# for another backend) on every sample of a
# malware corpus (default /work/shared/malware-corpus: samples/*.zip with
# password "infected", benign/*.tar.gz, samples.tsv) inside an outer network
# namespace, and print a Markdown table: sample, phase, what its code does,
# what moat found (findings with severity and phase), verdict.
# Each sample is unzipped into a fresh temporary directory that is removed
# after its run. Needs root (unshare -n) and unzip.
# The dependencies PyPI would have given a sample (requests, urllib3,
# boto3, paramiko, invoke; hatchling for a benign build) come from Debian:
# the runs use Debian's /usr/bin/python3 (MOAT_CORPUS_PYTHON), whose
# dist-packages the venv sees (moat test makes it with the system
# site-packages), after `apt-get install python3-requests python3-boto3
# python3-paramiko python3-invoke python3-hatchling`. Nothing is fetched.
# MOAT_CORPUS_IMAGE names the image of docker and podman runs.
# Usage: bench/corpus.sh [CORPUS] [OUTDIR]   (OUTDIR keeps each report.json)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-/work/shared/malware-corpus}
keep=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/moat" ./cmd/moat
[ -n "$keep" ] && mkdir -p "$keep"
iso=${MOAT_CORPUS_ISOLATION:-native}
net=()
py=(--python "${MOAT_CORPUS_PYTHON:-/usr/bin/python3}")
case "$iso" in docker | podman) py=(${MOAT_CORPUS_IMAGE:+--image "$MOAT_CORPUS_IMAGE"}) ;; esac # the image's python3
# every backend with a sinkhole (native, gvisor, docker, podman) runs with moat test's defaults
tail -n +2 "$corpus/samples.tsv" | while IFS=$'\t' read -r file pkg ver phase what _; do
  d=$(mktemp -d)
  case "$file" in
  *.zip) unzip -q -P infected -d "$d" "$corpus/$file" ;;
  *) cp "$corpus/$file" "$d/" ;;
  esac
  sdist=$(find "$d" -maxdepth 1 -name '*.tar.gz' | head -n1)
  unshare -n -- "$tmp/moat" test --isolation "$iso" "${net[@]}" "${py[@]}" --quiet --json --timeout-install 3m --timeout-import 1m \
    --timeout-test 1m --out "$d/out" "$sdist" >/dev/null 2>"$d/stderr" || true
  name="$pkg-$ver"
  if [ -f "$d/out/report.json" ]; then
    [ -n "$keep" ] && cp "$d/out/report.json" "$keep/$name.json"
    python3 - "$d/out/report.json" "$name" "$phase" "$what" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
name, phase, what = sys.argv[2:5]
cell = lambda s: s.replace("|", "\\|").replace("\n", " ")
fs = r.get("findings") or []
found = "; ".join(f"**{f['severity']}** {f['category']} ({f.get('phase', '')}): {f['summary'][:160]}" for f in fs) or "nothing"
print(f"| {name} | {phase} | {cell(what[:300])} | {cell(found)} | {r.get('verdict', '?')} |")
PY
  else
    echo "| $name | $phase | ${what:0:300} | moat failed: $(head -c 200 "$d/stderr" | tr '\n|' '  ') | error |"
  fi
  rm -rf "$d"
done
