#!/usr/bin/env bash
# The restricted backend's RestrictedPython: trixie's python3-restrictedpython
# (8.0). Bookworm's 4.0b3 fails on Python 3.11 ("AST node line range is not
# valid"). Trixie is added to apt's sources with Pin-Priority 100, so that
# nothing else is taken from it unless asked for by name; the package is
# pure Python and depends on python3 only (its Depends is checked below, so
# that a newer trixie build cannot pull trixie's libc or python3 in).
# Idempotent: nothing is done when a working RestrictedPython is installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

ok() { /usr/bin/python3 -c 'from RestrictedPython import compile_restricted; compile_restricted("x = 1", "<t>", "exec")' >/dev/null 2>&1; }
ok && exit 0

src=/etc/apt/sources.list.d/moat-trixie.sources
pin=/etc/apt/preferences.d/moat-trixie
if [ ! -e "$src" ]; then
  cat >"$src" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
if [ ! -e "$pin" ]; then
  cat >"$pin" <<'PIN'
# moat (.ci/setup-restricted.sh): nothing from trixie unless named
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
fi
apt-get -o DPkg::Lock::Timeout=600 update -qq
# What installing it would do: only python3-restrictedpython itself may be
# installed or upgraded (it is pure Python; python3 >= 3.9 is bookworm's).
plan=$(apt-get install -s -qq -t trixie python3-restrictedpython | grep -E '^(Inst|Remv)' || true)
if grep -Ev '^Inst python3-restrictedpython ' <<<"$plan" | grep -q .; then
  echo "setup-restricted: installing python3-restrictedpython from trixie would change more:" >&2
  echo "$plan" >&2
  exit 1
fi
apt-get -o DPkg::Lock::Timeout=600 install -y -qq -t trixie python3-restrictedpython >/dev/null
ok || { echo "setup-restricted: RestrictedPython still does not work with /usr/bin/python3" >&2; exit 1; }
