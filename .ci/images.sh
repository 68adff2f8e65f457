#!/usr/bin/env bash
# Build moat's container image without a registry: a minimal Debian
# bookworm (debootstrap --variant=minbase with python3, python3-venv, tar)
# from the apt mirror this machine is configured with, imported into Docker
# and Podman as moat/python:bookworm (for rootful Podman, and for rootless
# Podman as each user named in MOAT_PODMAN_USERS, default moatpod if it
# exists).
#
# Idempotent and cached: the rootfs tarball is kept under /var/cache/moat
# and an engine that already has the image is left alone (MOAT_IMAGE_REBUILD=1
# rebuilds everything). Needs root (debootstrap).
set -euo pipefail

IMAGE=${MOAT_IMAGE:-moat/python:bookworm}
CACHE=${MOAT_IMAGE_CACHE:-/var/cache/moat}
TARBALL=$CACHE/python-bookworm-rootfs.tar
SUITE=bookworm

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
  debootstrap --variant=minbase --include=python3,python3-venv,tar "$SUITE" "$dir" "$m" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  # Slim and harden: no apt lists or caches, no set-uid or set-gid bits
  # (no_new_privs already makes them inert; this is a second wall).
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/var/log/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
  find "$dir" -xdev -type f \( -perm -4000 -o -perm -2000 \) -exec chmod ug-s {} +
  tar --numeric-owner -C "$dir" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$dir"
  trap - EXIT
  log "rootfs $(du -h "$TARBALL" | cut -f1) in $TARBALL"
}

# import ENGINE...: import the tarball unless the engine has the image.
import_into() {
  if "$@" image inspect "$IMAGE" >/dev/null 2>&1 && [ "${MOAT_IMAGE_REBUILD:-}" != 1 ]; then
    log "$* has $IMAGE"
    return
  fi
  log "$* import $IMAGE"
  "$@" import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' "$TARBALL" "$IMAGE" >/dev/null
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
    if runuser -u "$u" -- sh -c 'cd ~ && podman image inspect "$1"' sh "$IMAGE" >/dev/null 2>&1 && [ "${MOAT_IMAGE_REBUILD:-}" != 1 ]; then
      log "podman ($u) has $IMAGE"
      continue
    fi
    log "podman ($u) import $IMAGE"
    runuser -u "$u" -- sh -c 'cd ~ && podman import --change "CMD [\"python3\"]" --change "ENV LANG=C.UTF-8" - "$1"' sh "$IMAGE" <"$TARBALL" >/dev/null
  done
fi
