#!/usr/bin/env bash
# Removes the cluster .ci/kube-up.sh brought up and restores what it
# changed on the host: its processes (by the PIDs it recorded, and the
# shims and sandboxes of its own containerd, found by its socket and state
# paths), its mounts, the bridge and iptables chains its network made, the
# kernel tunables the kubelet set, the kubelet's cgroups, and its state
# directory. The built binaries stay cached (kube-build.sh). Safe to run
# when nothing is up.
set -uo pipefail
V=${MOAT_KUBE_VERSION:-1.37.2}
C=${MOAT_KUBE_CACHE:-$HOME/.cache/moat-ci/kube-$V}
K=${MOAT_KUBE_DIR:-/tmp/moat-kube}
[ -d "$K" ] || exit 0
KC="$C/bin/kubectl --kubeconfig $K/pki/admin.kubeconfig"
CTR="$C/root/usr/bin/ctr -a $K/containerd/containerd.sock -n k8s.io"
log() { echo "kube-down: $*" >&2; }
alive() { [ -f "$K/run/$1.pid" ] && kill -0 "$(cat "$K/run/$1.pid")" 2>/dev/null; }
stop() {
  local f=$K/run/$1.pid p; [ -f "$f" ] || return 0; p=$(cat "$f")
  if kill -0 "$p" 2>/dev/null; then
    kill "$p"; for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p"
  fi
  rm -f "$f"
}

# 1. Pods first, while the kubelet can still tear them down (CNI, mounts).
if alive kubelet && alive kube-apiserver; then
  timeout 60 $KC delete pods --all -A --grace-period=1 --wait=true >/dev/null 2>&1 || true
fi
stop kubelet
# 2. What is left in our containerd: tasks killed, containers removed.
if alive containerd; then
  for t in $(timeout 10 $CTR tasks ls -q 2>/dev/null); do timeout 10 $CTR tasks kill -s KILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $(timeout 10 $CTR tasks ls -q 2>/dev/null); do timeout 10 $CTR tasks rm -f "$t" >/dev/null 2>&1; done
  for c in $(timeout 10 $CTR containers ls -q 2>/dev/null); do timeout 10 $CTR containers rm "$c" >/dev/null 2>&1; done
fi
# runsc sandboxes of ours that a failed start left "created".
if [ -d "$K/runsc/k8s.io" ]; then
  for id in $(runsc --root="$K/runsc/k8s.io" list -quiet 2>/dev/null); do
    timeout 20 runsc --root="$K/runsc/k8s.io" delete --force "$id" >/dev/null 2>&1
  done
fi
stop kube-scheduler; stop kube-controller-manager; stop kube-apiserver; stop containerd; stop etcd
# 3. Shims and runsc processes of our containerd (by their socket and root
#    paths in their command line), killed by PID.
for p in $(pgrep -f -- "-address $K/containerd/containerd.sock"); do kill -9 "$p" 2>/dev/null && log "killed shim $p"; done
for p in $(pgrep -f -- "--root=$K/runsc"); do kill -9 "$p" 2>/dev/null && log "killed runsc $p"; done
# 4. Mounts below the state directory, deepest first.
for m in $(awk -v k="$K/" 'index($2, k) == 1 {print $2}' /proc/self/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
# 5. The network: the bridge, and the CNI-/KUBE- rules and chains added
#    since kube-up (others' rules, added meanwhile, are left alone).
ip link del moatkube0 2>/dev/null
restore_chains() { # iptables|ip6tables, the snapshot before
  local ipt=$1 before=$2 tbl l ch
  [ -f "$before" ] || return 0
  "$ipt-save" 2>/dev/null | awk '/^\*/ {t=substr($0, 2)} /^-A .*(CNI-|KUBE-)/ {print t " " $0}' | while read -r tbl l; do
    grep -qxF -- "$l" <(grep '^-A' "$before") || eval "$ipt -t $tbl ${l/-A /-D }" 2>/dev/null
  done
  for op in -F -X; do # flush them all first: they may jump to each other
    for tbl in nat filter mangle raw; do
      for ch in $("$ipt" -t "$tbl" -S 2>/dev/null | awk '/^-N (CNI-|KUBE-)/ {print $2}'); do
        grep -q "^:$ch " "$before" || "$ipt" -t "$tbl" "$op" "$ch" 2>/dev/null
      done
    done
  done
}
restore_chains iptables "$K/run/iptables.before"
restore_chains ip6tables "$K/run/ip6tables.before"
# 6. Kernel tunables the kubelet set.
[ -f "$K/run/sysctl.orig" ] && sed 's/ //g' "$K/run/sysctl.orig" | xargs -r sysctl -qw
# 7. The kubelet's cgroups (cgroupfs driver).
for c in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
  [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
done
# 8. What they left in host paths: the container log links, the CNI
#    cache of our network, the kubelet's device-plugin socket, runc's
#    state of namespace k8s.io (ours: Docker's containerd keeps its own
#    elsewhere); the directories themselves if kube-up found them absent.
find /var/log/containers -maxdepth 1 -type l -lname "$K/*" -delete 2>/dev/null
rm -f /var/lib/cni/results/moat-ci-* /var/lib/kubelet/device-plugins/kubelet.sock 2>/dev/null
rmdir /run/containerd/runc/k8s.io 2>/dev/null
if [ -f "$K/run/paths.new" ]; then
  while read -r d; do find "$d" -depth -type d -empty -delete 2>/dev/null; done <"$K/run/paths.new"
fi
# 9. State.
rm -rf "$K"
log "done"
