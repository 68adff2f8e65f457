#!/usr/bin/env bash
# The microvm backend's needs: QEMU (qemu-system-x86), mksquashfs
# (squashfs-tools), xz (xz-utils), and a guest kernel with the modules moat's agent loads
# (virtio-mmio, virtio-serial, virtio-blk, squashfs; nftables and tproxy for the
# sinkhole): bookworm's
# linux-image-amd64, fetched with apt (not installed: this machine's /boot
# stays as it is) into /var/cache/moat/microvm/kernel, where moat looks
# when /boot has none. Idempotent; fast when done.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v mksquashfs >/dev/null || need+=(squashfs-tools)
command -v xz >/dev/null || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

modules="virtio_ring virtio virtio_mmio virtio_console virtio_blk squashfs crc32c_generic libcrc32c nfnetlink nf_tables nf_defrag_ipv4 nf_defrag_ipv6 nf_tproxy_ipv4 nf_tproxy_ipv6 nft_tproxy"
kdir=/var/cache/moat/microvm/kernel
if [ "$(cat "$kdir/modules.list" 2>/dev/null)" = "$modules" ] && [ -s "$kdir/vmlinuz" ] && [ -s "$kdir/vmlinux" ]; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then apt-get update -qq; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'); fi
[ -n "$pkg" ] || { echo "setup-microvm: apt knows no linux-image-amd64" >&2; exit 1; }
(cd "$work" && { apt-get download -q "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get download -q "$pkg" >/dev/null; }; } && dpkg-deb -x "$pkg"_*.deb x)
rm -rf "$kdir.new"
mkdir -p "$kdir.new/modules"
cp "$work"/x/boot/vmlinuz-* "$kdir.new/vmlinuz"
# The uncompressed kernel too (as the kernel's scripts/extract-vmlinux
# does: the xz stream inside the bzImage), which QEMU boots through PVH:
# under emulation the guest's own decompression takes tens of seconds.
off=$(grep -abo $'\xfd7zXZ\x00' "$kdir.new/vmlinuz" | head -1 | cut -d: -f1)
[ -n "$off" ] || { echo "setup-microvm: no xz stream in $pkg's vmlinuz" >&2; exit 1; }
tail -c +$((off + 1)) "$kdir.new/vmlinuz" | xz -dc 2>/dev/null >"$kdir.new/vmlinux" || true
head -c 4 "$kdir.new/vmlinux" | grep -q ELF || { echo "setup-microvm: could not extract vmlinux" >&2; exit 1; }
for m in $modules; do
  f=$(find "$work"/x/lib/modules -name "$m.ko" -print -quit)
  [ -n "$f" ] || { echo "setup-microvm: no module $m in $pkg" >&2; exit 1; }
  cp "$f" "$kdir.new/modules/"
done
echo "$modules" >"$kdir.new/modules.list"
rm -rf "$kdir"
mv "$kdir.new" "$kdir"
echo "setup-microvm: $pkg in $kdir"
