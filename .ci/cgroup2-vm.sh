#!/usr/bin/env bash
# Run the native backend and internal/sandbox/cgroup for real under pure cgroup v2:
# in a QEMU guest (TCG, no KVM needed) booting Debian bookworm's kernel,
# with only a cgroup2 file system at /sys/fs/cgroup (no v1 hierarchy).
#
# The guest's root is moat's image (moat/python:bookworm: Debian with
# python3) plus the test binaries built here, packed as the initramfs. Its
# /init copies that root into a tmpfs and switch_roots into it (pivot_root,
# which the sandbox uses, does not work on the initramfs itself), mounts
# proc, sysfs, devtmpfs, tmpfs and cgroup2, runs the tests, prints
# "moat-vm: PASS" or "moat-vm: FAIL" on the serial console and powers off.
# This script prints the console, fails unless the guest said PASS, and
# gives up after MOAT_VM_TIMEOUT (default 20m).
#
# Needs root (to unpack the image with its owners), qemu-system-x86 and
# cpio (installed with apt when missing), and the image's rootfs: the
# tarball .ci/images.sh caches, or the image in Docker.
#
# The guest runs: internal/sandbox/cgroup's tests (the real v2 ones among them);
# internal/sandbox/pid1's (bookworm's 6.1 kills an init with a blocked signal 34);
# native's TestNative (the conformance and adversarial suites as root, on
# v2 groups), TestNativeNonRoot (as nobody without cgroups: the refusal and
# the degraded run) and the network tests; gVisor's cgroup cases (runsc, from
# the host, on the ptrace platform); then `moat run` as a user with a
# delegated subtree. About 3 minutes here; MOAT_VM_RUN overrides native's
# -test.run pattern.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH CGO_ENABLED=0

timeout=${MOAT_VM_TIMEOUT:-20m}
cache=${MOAT_VM_CACHE:-$HOME/.cache/moat-ci/vm}
image=${MOAT_TEST_IMAGE:-moat/python:bookworm}
# images.sh names its tarball by a hash of what goes in; it keeps one.
rootfs_tar=$(ls -t "${MOAT_IMAGE_CACHE:-/var/cache/moat}"/python-bookworm-rootfs*.tar 2>/dev/null | head -1)
native_run=${MOAT_VM_RUN:-'^(TestNative|TestNativeNonRoot|TestNetworkSinkhole|TestNetworkAllow)$'}
# gVisor under TCG is slow (its Sentry takes over a second to boot there, so
# the 1s-timeout case cannot print first): the cases that exercise its
# cgroup (runsc born in the run's v2 group, the limits), cleanup, and the
# leftover checks.
gvisor_run=${MOAT_VM_GVISOR_RUN:-'^TestGVisor$/^(conformance|no-leftover-cgroups)$/^(exit-code|stdout-stderr|limit-memory|limit-pids|cleanup)$'}

log() { echo "cgroup2-vm: $*" >&2; }

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/moat-cgroup2-vm.XXXXXX)
qemu_pid= tail_pid=
cleanup() {
  for p in $qemu_pid $tail_pid; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The kernel: bookworm's linux-image-amd64, downloaded once and cached
# with the few modules the guest loads (its /init has no modprobe, so it
# loads them itself, dependencies first). Everything else the guest needs is
# built in: serial console, initramfs, cgroup2 with memory/pids/cpu,
# namespaces, seccomp, Landlock. The modules are nf_tables with TPROXY, for
# native's sinkhole and allow network modes, and the crc32c they need.
modules="crc32c_generic nft_tproxy"
kdir=$cache/kernel
if [ "$(cat "$kdir/modules.list" 2>/dev/null)" != "$modules" ]; then
  log "downloading bookworm's kernel"
  rm -rf "$kdir"
  mkdir -p "$kdir/modules" "$work/deb"
  (
    cd "$work/deb"
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$pkg" ] || { log "apt-cache knows no linux-image-amd64 (apt-get update?)"; exit 1; }
    apt-get download -q "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get download -q "$pkg" >/dev/null; }
    dpkg-deb -x "$pkg"_*.deb .
  )
  mv "$work"/deb/boot/vmlinuz-* "$kdir/vmlinuz"
  mods=$(echo "$work"/deb/lib/modules/*)
  # Each module after its dependencies (the depends= of its .modinfo).
  declare -A seen=()
  visit() {
    local m=$1 f d
    [ -z "${seen[$m]:-}" ] || return 0
    seen[$m]=1
    f=$(find "$mods/kernel" -name "$m.ko" -print -quit)
    if [ -z "$f" ]; then
      grep -q "/$m.ko\$" "$mods/modules.builtin" && return 0
      log "no module $m in $(basename "$mods")"; exit 1
    fi
    for d in $(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | tr ',' ' '); do visit "$d"; done
    cp "$f" "$kdir/modules/"
    echo "$m.ko" >>"$kdir/modules/order"
  }
  for m in $modules; do visit "$m"; done
  basename "$mods" >"$kdir/release"
  echo "$modules" >"$kdir/modules.list"
  rm -rf "$work/deb"
fi

# The guest root: the image, the test binaries, the init.
root=$work/root
mkdir -p "$root"
if [ -n "$rootfs_tar" ] && [ -f "$rootfs_tar" ]; then
  tar -C "$root" -xf "$rootfs_tar"
else
  cid=$(docker create "$image" /bin/true)
  docker export "$cid" | tar -C "$root" -x
  docker rm "$cid" >/dev/null
fi
# The kernel opens /dev/console of the initramfs for the init's output: an
# exported image has no device nodes.
mkdir -p "$root/dev"
[ -e "$root/dev/console" ] || mknod -m 600 "$root/dev/console" c 5 1
mkdir -p "$root/moat-vm"
cp -r "$kdir/modules" "$root/moat-vm/"
go test -c -o "$root/moat-vm/native.test" ./backend/native
go test -c -o "$root/moat-vm/cgroup.test" ./internal/sandbox/cgroup
go test -c -o "$root/moat-vm/pid1.test" ./internal/sandbox/pid1
go build -o "$root/moat-vm/moat" ./cmd/moat
go test -c -o "$root/moat-vm/gvisor.test" ./backend/gvisor
runsc=$(command -v runsc || true)
[ -n "$runsc" ] || { log "runsc is not installed (apt-get install runsc)"; exit 1; }
cp "$runsc" "$root/usr/bin/runsc"

# As a user with a delegated subtree (what systemd gives user@UID.service),
# moat's runs must get their group below it, with no --allow-degraded.
cat >"$root/moat-vm/delegated.py" <<'PYEOF'
import json, os, subprocess, sys

FORKS = """
import os, time
for i in range(64):
    if os.fork() == 0:
        time.sleep(30)
        os._exit(0)
"""
cases = [
    ("plain", "exited", ["--memory", "64MiB", "--pids", "16", "--cpus", "0.5", "-c", "print('ok')"]),
    ("memory", "memory", ["--memory", "64MiB", "-c", "b = bytearray(200 << 20)"]),
    ("pids", "pids", ["--pids", "16", "-c", FORKS]),
]
ok = True
for name, want, args in cases:
    p = subprocess.run(["/moat-vm/moat", "run", "--isolation", "native", "--json"] + args,
                       capture_output=True, text=True, timeout=120)
    try:
        r = json.loads(p.stdout)
    except ValueError:
        print("FAIL %s: moat exited %d: %s" % (name, p.returncode, p.stderr.strip()))
        ok = False
        continue
    layers = [l["name"] for l in r.get("layers") or []]
    good = r["status"] == want and "cgroup-v2" in layers and not r.get("degraded")
    ok = ok and good
    print("%s %s: status %s (want %s)" % ("ok  " if good else "FAIL", name, r["status"], want))
    if not good:
        print("  layers %s, degraded %s, stderr %r" % (layers, r.get("degraded"), r.get("stderr")))
base = os.path.join(sys.argv[1], "moat")
left = [d for d in os.listdir(base) if d.startswith("moat-")] if os.path.isdir(base) else []
if not os.path.isdir(base):
    print("FAIL no %s: the runs' groups were not made in the delegated subtree" % base)
    ok = False
if left:
    print("FAIL leftover groups in %s: %s" % (base, left))
    ok = False
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PYEOF

# Stage 1, pid 1 on the initramfs: the root moves to a tmpfs.
cat >"$root/init" <<'EOF'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t devtmpfs dev /dev
mkdir -p /newroot
mount -t tmpfs -o mode=0755 root /newroot
for d in /*; do
  case $d in /newroot|/dev|/proc|/sys|/init) ;; *) cp -a "$d" /newroot/ ;; esac
done
mkdir -p /newroot/dev /newroot/proc /newroot/sys
exec switch_root /newroot /moat-vm/stage2
EOF

# Stage 2, pid 1 on the tmpfs root: a pure cgroup v2 host, then the tests.
cat >"$root/moat-vm/stage2" <<EOF
#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp LANG=C.UTF-8 GOTRACEBACK=all
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t securityfs securityfs /sys/kernel/security
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t devpts devpts /dev/pts
python3 - <<'PY'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for name in open("/moat-vm/modules/order").read().split():
    fd = os.open("/moat-vm/modules/" + name, os.O_RDONLY)
    if libc.syscall(313, fd, b"", 0) != 0 and ctypes.get_errno() != 17:  # finit_module; EEXIST
        e = ctypes.get_errno()
        print("moat-vm: load %s: %s" % (name, os.strerror(e)))
    os.close(fd)
PY
# The loopback interface up (127.0.0.1 comes with it); no ip(8) here.
python3 -c '
import fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))
'
echo "moat-vm: kernel \$(uname -r), lsm \$(cat /sys/kernel/security/lsm 2>/dev/null), cgroup controllers: \$(cat /sys/fs/cgroup/cgroup.controllers)"
grep cgroup /proc/mounts
cd /moat-vm
status=PASS
step() {
  echo "moat-vm: == \$*"
  start=\$(date +%s)
  # Not as children of pid 1: a sandbox's own pid 1 would shadow the
  # parent pid the signal-host case tries to signal.
  /bin/sh -c '"\$@"; exit \$?' step "\$@"
  rc=\$?
  echo "moat-vm: == exit \$rc after \$((\$(date +%s) - start))s: \$*"
  [ \$rc = 0 ] || status=FAIL
}
step ./cgroup.test -test.v -test.count=1 -test.timeout=5m
step ./pid1.test -test.v -test.count=1 -test.timeout=2m
step env MOAT_REQUIRE_BACKENDS=native ./native.test -test.v -test.count=1 -test.timeout=15m -test.run '$native_run'
step env MOAT_REQUIRE_BACKENDS=gvisor ./gvisor.test -test.v -test.count=1 -test.timeout=10m -test.run '$gvisor_run'
echo "moat-vm: root subtree_control: \$(cat /sys/fs/cgroup/cgroup.subtree_control)"
# A delegated subtree as systemd makes one: the user owns the directory
# and its cgroup.procs, cgroup.subtree_control and cgroup.threads, and
# the user's processes live in a leaf below it.
deleg=/sys/fs/cgroup/user.slice/user@65534.service
mkdir -p \$deleg/session.scope /tmp/nobody
echo "+memory +pids +cpu" >/sys/fs/cgroup/user.slice/cgroup.subtree_control
for d in \$deleg \$deleg/session.scope; do
  chown 65534:65534 \$d \$d/cgroup.procs \$d/cgroup.subtree_control \$d/cgroup.threads
done
chown 65534:65534 /tmp/nobody
step /bin/sh -c 'echo \$\$ >"\$1/session.scope/cgroup.procs" && exec setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp/nobody python3 /moat-vm/delegated.py "\$1"' as-uid-65534 \$deleg
left=\$(ls -d /sys/fs/cgroup/moat/moat-* 2>/dev/null | head -5)
if [ -n "\$left" ]; then echo "moat-vm: leftover cgroups: \$left"; status=FAIL; fi
echo "moat-vm: \$status"
sync
echo o >/proc/sysrq-trigger
sleep 30
EOF
chmod 755 "$root/init" "$root/moat-vm/stage2"

log "packing the initramfs"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) >"$work/initrd"
rm -rf "$root"

# lsm: Landlock first, as on the hosts moat targets; cgroup_no_v1=all: no
# controller can be bound to a v1 hierarchy; panic=-1 with -no-reboot: a
# crashed init ends QEMU instead of hanging it.
log "booting Linux $(cat "$kdir/release") under QEMU (TCG; timeout $timeout)"
start=$(date +%s)
console=$work/console.log
set +e
timeout --kill-after=30s "$timeout" qemu-system-x86_64 \
  -machine q35,accel=tcg -cpu max -smp 2 -m 2G \
  -kernel "$kdir/vmlinuz" -initrd "$work/initrd" \
  -append "console=ttyS0 quiet panic=-1 lsm=landlock,yama cgroup_no_v1=all rdinit=/init" \
  -display none -monitor none -serial "file:$console" -no-reboot \
  </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!
# Follow the console while the guest runs.
tail -n +1 -F "$console" 2>/dev/null &
tail_pid=$!
wait "$qemu_pid"
rc=$?
qemu_pid=
set -e
sleep 1
kill "$tail_pid" 2>/dev/null || true
wait "$tail_pid" 2>/dev/null || true
tail_pid=
log "QEMU exited with $rc after $(($(date +%s) - start))s"
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  log "FAIL: the guest did not finish within $timeout"
  exit 2 # a stalled guest, not a test's verdict (see .ci/run)
fi
if [ "$rc" != 0 ]; then
  cat "$work/qemu.log" >&2
fi
if tr -d '\r' <"$console" | grep -qx 'moat-vm: PASS'; then
  log "PASS"
  exit 0
fi
log "FAIL: the guest did not report PASS (see its console above)"
exit 1
