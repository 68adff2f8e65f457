#!/usr/bin/env bash
# Build moat's container image without a registry: a minimal Debian
# bookworm (debootstrap --variant=minbase with python3, python3-venv, and
# pip and pytest for `moat test`, and the network and encoding tools that
# payloads call: curl, wget, dig, nc, xxd, ping, ps; docs/malware.md) from
# the apt mirror this machine is
# configured with, imported into Docker
# and Podman as moat/python:bookworm (for rootful Podman, and for rootless
# Podman as each user named in MOAT_PODMAN_USERS, default moatpod if it
# exists).
#
# Idempotent and cached: the rootfs tarball is kept under /var/cache/moat,
# named by a hash of what goes in, and an engine whose image carries that
# hash (label moat.image) is left alone (MOAT_IMAGE_REBUILD=1 rebuilds
# everything). Needs root (debootstrap).
set -euo pipefail

IMAGE=${MOAT_IMAGE:-moat/python:bookworm}
CACHE=${MOAT_IMAGE_CACHE:-/var/cache/moat}
SUITE=bookworm
INCLUDE=python3,python3-venv,python3-pip,python3-pytest,tar,curl,wget,bind9-dnsutils,netcat-openbsd,xxd,iputils-ping,procps
KEY=$(printf '%s %s v2' "$SUITE" "$INCLUDE" | sha256sum | cut -c1-12)
TARBALL=$CACHE/python-$SUITE-rootfs-$KEY.tar

log() { echo "images: $*" >&2; }

# mirror: the first deb URI of the configured sources that serves the suite
# (deb822 .sources or one-line .list), else deb.debian.org.
mirror() {
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
    /^Types:/ {deb = ($0 ~ /(^|[ \t])deb([ \t]|$)/)}
    /^URIs:/ {uri = $2}
    /^Suites:/ {if (deb && $0 ~ /[ \t]bookworm([ \t]|$)/) {print uri; exit}}')
  if [ -z "$m" ]; then
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '$1 == "deb" && $0 ~ / bookworm / {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}')
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

build_rootfs() {
  if [ -s "$TARBALL" ] && [ "${MOAT_IMAGE_REBUILD:-}" != 1 ]; then
    log "cached rootfs $TARBALL"
    return
  fi
  mkdir -p "$CACHE"
  local dir m
  dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$dir"' EXIT
  m=$(mirror)
  log "debootstrap $SUITE from $m"
  debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$dir" "$m" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  # Slim and harden: no apt lists or caches, no set-uid or set-gid bits
  # (no_new_privs already makes them inert; this is a second wall).
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/var/log/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
  find "$dir" -xdev -type f \( -perm -4000 -o -perm -2000 \) -exec chmod ug-s {} +
  tar --numeric-owner -C "$dir" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  find "$CACHE" -maxdepth 1 -name "python-$SUITE-rootfs*.tar" ! -name "${TARBALL##*/}" -delete
  rm -rf "$dir"
  trap - EXIT
  log "rootfs $(du -h "$TARBALL" | cut -f1) in $TARBALL"
}

# import ENGINE...: import the tarball unless the engine has this image.
import_into() {
  if [ "$("$@" image inspect -f '{{index .Config.Labels "moat.image"}}' "$IMAGE" 2>/dev/null)" = "$KEY" ] && [ "${MOAT_IMAGE_REBUILD:-}" != 1 ]; then
    log "$* has $IMAGE ($KEY)"
    return
  fi
  log "$* import $IMAGE ($KEY)"
  "$@" import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' --change "LABEL moat.image=$KEY" "$TARBALL" "$IMAGE" >/dev/null
}

build_rootfs

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  import_into docker
else
  log "docker: daemon not reachable, skipped"
fi

if command -v podman >/dev/null; then
  import_into podman
  users=${MOAT_PODMAN_USERS-moatpod}
  for u in $users; do
    id "$u" >/dev/null 2>&1 || { log "rootless podman: no user $u, skipped"; continue; }
    # The user reads the tarball from stdin: the cache stays root's.
    if [ "$(runuser -u "$u" -- sh -c 'cd ~ && podman image inspect -f "{{index .Config.Labels \"moat.image\"}}" "$1"' sh "$IMAGE" 2>/dev/null)" = "$KEY" ] && [ "${MOAT_IMAGE_REBUILD:-}" != 1 ]; then
      log "podman ($u) has $IMAGE ($KEY)"
      continue
    fi
    log "podman ($u) import $IMAGE ($KEY)"
    runuser -u "$u" -- sh -c 'cd ~ && podman import --change "CMD [\"python3\"]" --change "ENV LANG=C.UTF-8" --change "LABEL moat.image=$2" - "$1"' sh "$IMAGE" "$KEY" <"$TARBALL" >/dev/null
  done
fi
