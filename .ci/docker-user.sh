#!/usr/bin/env bash
# Set up an unprivileged user in the docker group (moat run by a user who
# may drive Docker but is not root: the docker backend's sinkhole is then
# served by a helper container; TestSinkhole/nonroot runs as this user).
# Idempotent. Needs root and Docker's group (docker.io makes it).
set -euo pipefail
U=${MOAT_DOCKER_USER:-moatdock}
getent group docker >/dev/null || groupadd --system docker
id "$U" >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin "$U"
id -nG "$U" | tr ' ' '\n' | grep -qx docker || usermod -aG docker "$U"
sock=/var/run/docker.sock
if [ -S "$sock" ] && ! runuser -u "$U" -- docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  echo "docker-user: $U cannot reach $sock ($(stat -c '%U:%G %a' "$sock"))" >&2; exit 1
fi
echo "docker-user: $U ready (groups: $(id -nG "$U"))" >&2
