#!/usr/bin/env bash
# Set up an unprivileged user for rootless Podman (moat's podman backend
# runs podman as this user when MOAT_PODMAN_USER names it and moat is root):
# subuid/subgid ranges, storage overlay through fuse-overlayfs, runtime runc
# (crun 1.8 refuses this host's hybrid cgroups; vfs storage is 20x slower).
# Idempotent. Needs root, uidmap and fuse-overlayfs.
set -euo pipefail
U=${MOAT_PODMAN_USER:-moatpod}

id "$U" >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin "$U"
grep -q "^$U:" /etc/subuid || usermod --add-subuids 200000-265535 "$U"
grep -q "^$U:" /etc/subgid || usermod --add-subgids 200000-265535 "$U"
home=$(getent passwd "$U" | cut -d: -f6)
conf=$home/.config/containers
install -d -o "$U" -g "$U" "$home/.config" "$conf"
cat >"$conf/storage.conf" <<'CONF'
[storage]
driver = "overlay"
[storage.options.overlay]
mount_program = "/usr/bin/fuse-overlayfs"
CONF
cat >"$conf/containers.conf" <<'CONF'
[containers]
# moat sets its own rlimits; podman's defaults exceed what root may grant
# here (no CAP_SYS_RESOURCE in some VMs).
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
chown "$U:$U" "$conf/storage.conf" "$conf/containers.conf"
runuser -u "$U" -- sh -c 'cd ~ && podman system migrate' >/dev/null 2>&1 || true
echo "podman-rootless: $U ready ($(runuser -u "$U" -- sh -c 'cd ~ && podman info --format "{{.Store.GraphDriverName}} {{.Host.OCIRuntime.Name}}"' 2>/dev/null))" >&2
