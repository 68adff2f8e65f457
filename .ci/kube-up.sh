#!/usr/bin/env bash
# Brings up a single-node Kubernetes cluster on this machine for the
# kubernetes backend's tests, and prints, as its last line, the path of
# its kubeconfig. .ci/kube-down.sh removes it and restores the host.
#
# Everything lives under $MOAT_KUBE_DIR (default /tmp/moat-kube): etcd, the
# control plane, a private containerd (Docker's is not touched), the
# kubelet, their logs and PIDs. The binaries come from .ci/kube-build.sh
# (built once, cached). No registry is reachable: the sandbox ("pause")
# image is moat's own and the test image is copied from Docker.
#
# What this kind of machine needs (found by the recipe in
# ../shared/k8s-recipe and kept here):
#  - cgroup v1: the kubelet refuses it unless failCgroupV1 is false;
#  - root without CAP_SYS_RESOURCE: containerd must not ask runc for a
#    negative oom_score_adj (restrict_oom_score_adj), and gVisor's shim is
#    built to tolerate the same EPERM (kube-build.sh);
#  - bookworm's runsc (2022) cannot set up a Pod's network on this kernel:
#    it runs with network=none (no interface but loopback, which is what
#    moat wants anyway), with --oci-seccomp so that the Pod's seccomp
#    profile is in effect inside gVisor (moat's init checks it is), and
#    with file-access-mounts=exclusive: the Pod's emptyDirs are its own,
#    and the Sentry then caches them rather than asking the gofer again at
#    every access. (A current runsc, from the Go proxy, reaches them
#    directly and is faster, but shows /dev/char and a cgroupfs under the
#    Pod's empty /sys, and still timed out in copy-out-caps at load 30.)
#  - gVisor's shim turns the Pod's /dev/shm volume into an unsized tmpfs
#    of the Sentry's own: kube-build.sh builds it with a patch that keeps
#    an emptyDir there (RuntimeClass gvisor), and once as released
#    (RuntimeClass gvisor-stock, the same runsc), which moat must refuse.
# The kubelet changes three kernel tunables and adds iptables chains; their
# state before is saved here for kube-down.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
V=${MOAT_KUBE_VERSION:-1.37.2}
C=${MOAT_KUBE_CACHE:-$HOME/.cache/moat-ci/kube-$V}
K=${MOAT_KUBE_DIR:-/tmp/moat-kube}
IMAGE=${MOAT_TEST_IMAGE:-moat/python:bookworm}
log() { echo "kube-up: $*" >&2; }

"$here/kube-build.sh" >&2
BIN=$C/bin ROOT=$C/root
# moat's seccomp profile, where the kubelet finds the Localhost profiles
# the backend's Pods name (its --root-dir's seccomp/); written every time,
# also for a cluster already up (the runtime reads it when a Pod starts).
seccomp() { mkdir -p "$K/kubelet"; (cd "$here/.." && go run ./cmd/moat kube-seccomp "$K/kubelet/seccomp") >&2; }
# A cluster already up and healthy is used as it is; anything else found
# in $K (a run that crashed half way, a machine rebooted under it) is
# removed first, as kube-down.sh removes a cluster.
if [ -d "$K" ]; then
  healthy=no
  if [ -f "$K/run/up" ]; then
    healthy=yes
    for n in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet; do
      { [ -f "$K/run/$n.pid" ] && kill -0 "$(cat "$K/run/$n.pid")" 2>/dev/null; } || healthy=no
    done
    [ $healthy = yes ] && timeout 10 "$BIN/kubectl" --kubeconfig "$K/pki/admin.kubeconfig" get --raw /readyz >/dev/null 2>&1 || healthy=no
    # One of an older kube-up lacks the released shim's RuntimeClass.
    [ $healthy = yes ] && timeout 10 "$BIN/kubectl" --kubeconfig "$K/pki/admin.kubeconfig" get runtimeclass gvisor-stock >/dev/null 2>&1 || healthy=no
  fi
  if [ $healthy = yes ]; then
    seccomp; log "a cluster is already up in $K"; echo "$K/pki/admin.kubeconfig"; exit 0
  fi
  log "removing what an earlier cluster left in $K"
  MOAT_KUBE_DIR=$K "$here/kube-down.sh"
fi
# Processes of an earlier cluster whose state directory is gone (say
# /tmp was cleared) still hold the ports: ours (binaries of this cache)
# are ended; anything else on them is a clear error.
for port in 2379 2380 6443 10248 10250 10257 10259; do
  for pid in $(ss -Htlnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
    case $exe in
      "$BIN"/*|"$ROOT"/*) log "ending $exe (pid $pid) of an earlier cluster on port $port"; kill -9 "$pid" 2>/dev/null || true ;;
      *) log "port $port is taken by ${exe:-pid $pid}: cannot bring the cluster up"; exit 1 ;;
    esac
  done
done
mkdir -p "$K"/{log,run,etcd,containerd,kubelet,cni/ipam,runsc,etc/cni/net.d,pki}
seccomp
export PATH=$BIN:$ROOT/usr/bin:$PATH   # containerd 2.1, its runc shim and gVisor's first
NODE=$(hostname | tr 'A-Z' 'a-z')
NODE_IP=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
NODE_IP=${NODE_IP:-127.0.0.1}
KC="$BIN/kubectl --kubeconfig $K/pki/admin.kubeconfig"
start() { local n=$1; shift; nohup "$@" >"$K/log/$n.log" 2>&1 & echo $! >"$K/run/$n.pid"; }
waitfor() { # name, command, seconds
  for _ in $(seq "${3:-60}"); do eval "$2" >/dev/null 2>&1 && return 0; sleep 1; done
  log "timeout waiting for $1; its log:"; tail -20 "$K/log/$1.log" >&2 || true; exit 1
}

# What the kubelet will change, for kube-down.sh.
[ -f "$K/run/sysctl.orig" ] || sysctl -e vm.overcommit_memory kernel.panic kernel.panic_on_oops >"$K/run/sysctl.orig"
[ -f "$K/run/iptables.before" ] || iptables-save >"$K/run/iptables.before"
[ -f "$K/run/ip6tables.before" ] || ip6tables-save >"$K/run/ip6tables.before" 2>/dev/null || true
# Host paths the kubelet, containerd's runc shim and the CNI cache use
# whatever they are told: those that do not exist yet are removed again.
[ -f "$K/run/paths.new" ] || for d in /var/lib/kubelet /var/lib/cni /var/log/containers /run/containerd/runc; do
  [ -e "$d" ] || echo "$d"; done >"$K/run/paths.new"

# 1. PKI: a CA, a certificate per component, kubeconfigs.
P=$K/pki
if [ ! -f "$P/ca.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" -days 30 -subj /CN=moat-ci-ca 2>/dev/null
  cert() { # name CN O SAN
    local subj="/CN=$2" o=${3:-} san=${4:-}
    if [ -n "$o" ]; then subj="/O=$o/CN=$2"; fi
    openssl req -newkey rsa:2048 -nodes -keyout "$P/$1.key" -out "$P/$1.csr" -subj "$subj" 2>/dev/null
    { echo basicConstraints=CA:FALSE; echo keyUsage=critical,digitalSignature,keyEncipherment
      if [ -n "$san" ]; then echo extendedKeyUsage=serverAuth,clientAuth; echo "subjectAltName=$san"; else echo extendedKeyUsage=clientAuth; fi
    } >"$P/$1.ext"
    openssl x509 -req -in "$P/$1.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -out "$P/$1.crt" -days 30 -extfile "$P/$1.ext" 2>/dev/null
    rm -f "$P/$1.csr" "$P/$1.ext"
  }
  cert apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:localhost,DNS:$NODE,IP:127.0.0.1,IP:10.96.0.1,IP:$NODE_IP"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert admin admin system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert kubelet "system:node:$NODE" system:nodes
  cert kubelet-serving "$NODE" "" "DNS:$NODE,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP"
  openssl genrsa -out "$P/sa.key" 2048 2>/dev/null; openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub" 2>/dev/null
  for u in admin controller-manager scheduler kubelet; do
    cat >"$P/$u.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: moat-ci
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: $(base64 -w0 "$P/ca.crt")}
users:
- name: $u
  user: {client-certificate-data: $(base64 -w0 "$P/$u.crt"), client-key-data: $(base64 -w0 "$P/$u.key")}
contexts:
- name: moat-ci
  context: {cluster: moat-ci, user: $u, namespace: default}
current-context: moat-ci
KC
  done
fi

# 2. etcd and the control plane.
start etcd "$ROOT/usr/bin/etcd" --name moat-ci --data-dir "$K/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster moat-ci=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
waitfor etcd "python3 -c 'import urllib.request; urllib.request.urlopen(\"http://127.0.0.1:2379/health\", timeout=2)'"
start kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
  --secure-port=6443 --bind-address=127.0.0.1 --advertise-address="$NODE_IP" \
  --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" --client-ca-file="$P/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$P/ca.crt"
waitfor kube-apiserver "$KC get --raw /readyz" 120
start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$P/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$P/controller-manager.kubeconfig" --authorization-kubeconfig="$P/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
  --root-ca-file="$P/ca.crt" --service-account-private-key-file="$P/sa.key" --use-service-account-credentials=true \
  --service-cluster-ip-range=10.96.0.0/16 --leader-elect=false
start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$P/scheduler.kubeconfig" \
  --authentication-kubeconfig="$P/scheduler.kubeconfig" --authorization-kubeconfig="$P/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false

# 3. A private containerd, with runc and gVisor's runsc as runtimes.
cat >"$K/etc/containerd.toml" <<EOF
version = 3
root = '$K/containerd/root'
state = '$K/containerd/state'
[grpc]
  address = '$K/containerd/containerd.sock'
[ttrpc]
  address = '$K/containerd/containerd.sock.ttrpc'
[debug]
  address = '$K/containerd/debug.sock'
[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'registry.k8s.io/pause:3.10'
  [plugins.'io.containerd.cri.v1.runtime']
    enable_cdi = false
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '/usr/sbin/runc'
          SystemdCgroup = false
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc]
        runtime_type = 'io.containerd.runsc.v1'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc.options]
          TypeUrl = 'io.containerd.runsc.v1.options'
          ConfigPath = '$K/etc/runsc.toml'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc-stock]
        runtime_type = 'io.containerd.runsc.v1'
        runtime_path = '$BIN/containerd-shim-runsc-stock-v1'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc-stock.options]
          TypeUrl = 'io.containerd.runsc.v1.options'
          ConfigPath = '$K/etc/runsc.toml'
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['$ROOT/usr/lib/cni']
      conf_dir = '$K/etc/cni/net.d'
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
  [plugins.'io.containerd.internal.v1.opt']
    path = '$K/containerd/opt'
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
EOF
runsc_platform=ptrace
runsc help platforms 2>/dev/null | grep -qx systrap && runsc_platform=systrap
cat >"$K/etc/runsc.toml" <<EOF
binary_name = "/usr/bin/runsc"
root = "$K/runsc"
[runsc_config]
  platform = "$runsc_platform"
  network = "none"
  oci-seccomp = "true"
  file-access-mounts = "exclusive"
EOF
cat >"$K/etc/cni/net.d/10-bridge.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "moat-ci", "plugins": [
 {"type": "bridge", "bridge": "moatkube0", "isGateway": true, "ipMasq": true,
  "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$K/cni/ipam"}},
 {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
start containerd "$ROOT/usr/bin/containerd" --config "$K/etc/containerd.toml"
waitfor containerd "test -S $K/containerd/containerd.sock"
CTR="$ROOT/usr/bin/ctr -a $K/containerd/containerd.sock -n k8s.io"
$CTR images import --platform linux/amd64 "$BIN/pause.tar" >/dev/null
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  docker save "$IMAGE" | $CTR images import --platform linux/amd64 - >/dev/null
else
  log "docker has no $IMAGE: the node has only what it can pull"
fi

# 4. The kubelet.
cat >"$K/etc/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$K/containerd/containerd.sock
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $P/kubelet-serving.crt
tlsPrivateKeyFile: $P/kubelet-serving.key
rotateCertificates: false
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
clusterDomain: cluster.local
clusterDNS: [10.96.0.10]
resolvConf: /etc/resolv.conf
podLogsDir: $K/log/pods
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}
podPidsLimit: 1024
protectKernelDefaults: false
EOF
start kubelet "$BIN/kubelet" --config="$K/etc/kubelet.yaml" --kubeconfig="$P/kubelet.kubeconfig" \
  --root-dir="$K/kubelet" --node-ip="$NODE_IP" --hostname-override="$NODE" --v=1
waitfor kubelet "$KC get node $NODE" 90
$KC wait --for=condition=Ready "node/$NODE" --timeout=120s >&2
$KC apply -f - >&2 <<EOF
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor}
handler: runsc
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor-stock}
handler: runsc-stock
EOF
# The default service account appears a moment after the namespace.
waitfor kube-controller-manager "$KC get serviceaccount default" 60
touch "$K/run/up"
log "cluster up: node $NODE, Kubernetes v$V, RuntimeClasses gvisor (runsc, network=none) and gvisor-stock (the released shim)"
echo "$K/pki/admin.kubeconfig"
