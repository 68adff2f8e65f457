#!/usr/bin/env bash
# CI for `moat scan` (issue 17): the external analysers it runs in a
# sandbox. Debian's bandit, and Python Code Audit's dependencies as Debian
# packages (bookworm: pandas 1.5.3 and altair 4.2.0, older than the
# pandas>=2.3 and altair==6.0.0 it pins; its API works with them).
# Python Code Audit itself (GPL-3.0) is vendored in third_party/codeaudit
# (no GitHub access here) and installed where moat looks for it.
# Idempotent, fast when done.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for p in bandit python3-pandas python3-altair; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Not under a directory named moat: native runs with the system's Python
# see the host's /usr/local, and a program must not find moat's name there.
dst=/usr/local/share/codeaudit
rm -rf /usr/local/share/moat/codeaudit && rmdir /usr/local/share/moat 2>/dev/null || true
if ! diff -qr third_party/codeaudit "$dst" >/dev/null 2>&1; then
  rm -rf "$dst" && mkdir -p "$(dirname "$dst")" && cp -r third_party/codeaudit "$dst"
fi
