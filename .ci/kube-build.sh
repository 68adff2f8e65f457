#!/usr/bin/env bash
# Builds what .ci/kube-up.sh runs that no Debian package of this machine
# ships, once, into $MOAT_KUBE_CACHE (default ~/.cache/moat-ci/kube-VERSION):
#   bin/  kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
#         kubectl (Kubernetes from the Go module proxy, ~9 min on 2 cores),
#         containerd-shim-runsc-v1 and -runsc-stock-v1 (gVisor's shim,
#         patched and as released, ~1 min each), pause.tar
#   root/ containerd 2.1 and the CNI plugins (sid), etcd (trixie), unpacked
#         from .debs fetched with a private apt list (nothing installed, the
#         host's apt sources untouched)
# Each part is built in a scratch directory and moved into place whole, so
# an interrupted build is built again, not used half done.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH CGO_ENABLED=0 GOFLAGS=-mod=mod
V=${MOAT_KUBE_VERSION:-1.37.2}
C=${MOAT_KUBE_CACHE:-$HOME/.cache/moat-ci/kube-$V}
mkdir -p "$C"
# What kube-up.sh runs from Debian (a brand-new machine may lack some).
need=()
for p in openssl iptables iproute2 runc runsc; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
here=$(cd "$(dirname "$0")" && pwd)

# Kubernetes: k8s.io/kubernetes requires its staging modules at v0.0.0;
# each is replaced by its published v0.MINOR.PATCH.
k8s_bins="kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl"
if ! (cd "$C/bin" 2>/dev/null && ls $k8s_bins >/dev/null 2>&1); then
  s=$(date +%s); d=$tmp/k8s; mkdir -p "$d/out"
  printf 'module moatci/kube\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v%s\n' "$V" >"$d/go.mod"
  (cd "$d" && go mod download -json "k8s.io/kubernetes@v$V" >/dev/null)
  mod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$V.mod
  for m in $(awk '/=> .\/staging/{print $1}' "$mod"); do echo "replace $m => $m v0.${V#1.}" >>"$d/go.mod"; done
  { echo '//go:build tools'; echo 'package tools'; echo 'import ('
    for b in $k8s_bins; do echo " _ \"k8s.io/kubernetes/cmd/$b\""; done; echo ')'; } >"$d/tools.go"
  (cd "$d" && go mod tidy -e >/dev/null 2>&1)
  minor=${V#1.}; minor=${minor%%.*}
  ld="-s -w -X k8s.io/component-base/version.gitVersion=v$V -X k8s.io/component-base/version.gitMajor=1"
  ld="$ld -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=v$V"
  pkgs=(); for b in $k8s_bins; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  (cd "$d" && go build -trimpath -ldflags "$ld" -o "$d/out/" "${pkgs[@]}")
  mkdir -p "$C/bin"; for b in $k8s_bins; do mv "$d/out/$b" "$C/bin/$b"; done
  echo "kube-build: kubernetes v$V built in $(( $(date +%s) - s ))s"
fi

# gVisor's containerd shim (2024-07; it drives bookworm's runsc), built
# twice from one source, each with a stamp of its patches so that a cache
# of other patches is rebuilt:
#  - both: it sets its own oom_score_adj; where root lacks CAP_SYS_RESOURCE
#    (this kind of machine) that fails with EPERM and the shim exits: the
#    containerd copy it builds with ignores that EPERM;
#  - containerd-shim-runsc-v1 only: the shim turns every bind mount at
#    /dev/shm into a tmpfs of the Sentry's own, of no size, taking it for
#    the Pod's shared /dev/shm: a Pod's own emptyDir there (moat's, sized
#    from --disk) then loses its size. This build makes an emptyDir at
#    /dev/shm a tmpfs of the Sentry's own of the emptyDir's size (the
#    kubelet's size-limited tmpfs, measured with statfs). Not a bind mount
#    of it: through the gofer, glibc's sem_open (a link into /dev/shm)
#    gives two processes two semaphores, and multiprocessing's spawn pools
#    hang (moattest shm-spawn).
#  - containerd-shim-runsc-stock-v1 keeps the released behaviour at
#    /dev/shm (RuntimeClass gvisor-stock): what moat meets on a cluster
#    with the released shim, and must refuse (the kubernetes backend's
#    TestStockShim).
GV=20240722211153-64c016c92987
build_shim() { # binary name, "devshm" to patch /dev/shm or ""
  local out=$1 devshm=$2 stamp="$GV oom-eperm${2:+ devshm-sentry-tmpfs}"
  if [ -x "$C/bin/$out" ] && [ "$(cat "$C/bin/$out.stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  local s d cd_src gv_src
  s=$(date +%s); d=$tmp/shim-$out; mkdir -p "$d"
  printf 'module moatci/shim\n\ngo 1.22\n\nrequire gvisor.dev/gvisor v0.0.0-%s\n' "$GV" >"$d/go.mod"
  printf '//go:build tools\npackage tools\nimport _ "gvisor.dev/gvisor/shim"\n' >"$d/tools.go"
  (cd "$d" && go mod tidy -e >/dev/null 2>&1)
  cd_src=$(cd "$d" && go list -m -f '{{.Dir}}' github.com/containerd/containerd)
  cp -r "$cd_src" "$d/containerd"; chmod -R u+w "$d/containerd"
  printf 'module github.com/containerd/containerd\n\ngo 1.13\n' >"$d/containerd/go.mod"
  sed -i 's/if os.IsPermission(err) && (RunningInUserNS() || RunningUnprivileged()) {/if os.IsPermission(err) {/' "$d/containerd/sys/oom_unix.go"
  grep -q 'if os.IsPermission(err) {' "$d/containerd/sys/oom_unix.go" || { echo "kube-build: shim patch did not apply" >&2; exit 1; }
  echo 'replace github.com/containerd/containerd => ./containerd' >>"$d/go.mod"
  if [ -n "$devshm" ]; then
    gv_src=$(cd "$d" && go list -m -f '{{.Dir}}' gvisor.dev/gvisor)
    cp -r "$gv_src" "$d/gvisor"; chmod -R u+w "$d/gvisor"
    v=$d/gvisor/pkg/shim/utils/volumes.go
    awk -v block="$here/kube-shim-devshm.go.in" '
      /^\t\tif m.Destination == shmPath && m.Type == "bind" \{$/ && !done { while ((getline l < block) > 0) print l; done = 1 }
      { print }
      /^\t"strings"$/ && !imp { print "\n\t\"golang.org/x/sys/unix\""; imp = 1 }' "$v" >"$v.new" && mv "$v.new" "$v"
    grep -q 'moat: an emptyDir at /dev/shm' "$v" && grep -q 'golang.org/x/sys/unix' "$v" || { echo "kube-build: shim /dev/shm patch did not apply" >&2; exit 1; }
    echo 'replace gvisor.dev/gvisor => ./gvisor' >>"$d/go.mod"
  fi
  (cd "$d" && go build -trimpath -ldflags '-s -w' -o "$d/shim" gvisor.dev/gvisor/shim)
  mkdir -p "$C/bin"; mv "$d/shim" "$C/bin/$out"; echo "$stamp" >"$C/bin/$out.stamp"
  echo "kube-build: $out built in $(( $(date +%s) - s ))s"
}
build_shim containerd-shim-runsc-v1 devshm
build_shim containerd-shim-runsc-stock-v1 ""

# The sandbox ("pause") image: no registry is reachable, so a static Go
# program packed as a docker-archive, imported into containerd by kube-up.
if [ ! -f "$C/bin/pause.tar" ]; then
  d=$tmp/pause; mkdir -p "$d/src" "$d/rootfs" "$d/img"
  cp "$here/kube-pause.go" "$d/src/main.go"; printf 'module moatci/pause\n\ngo 1.22\n' >"$d/src/go.mod"
  (cd "$d/src" && go build -trimpath -ldflags '-s -w' -o "$d/rootfs/pause" .)
  tar --owner=0 --group=0 --numeric-owner --mtime=2020-01-01 -C "$d/rootfs" -cf "$d/layer.tar" pause
  diff=$(sha256sum "$d/layer.tar" | cut -d' ' -f1); mkdir -p "$d/img/$diff"; mv "$d/layer.tar" "$d/img/$diff/layer.tar"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" >"$d/config.json"
  cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1); mv "$d/config.json" "$d/img/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["registry.k8s.io/pause:3.10"],"Layers":["%s/layer.tar"]}]' "$cfg" "$diff" >"$d/img/manifest.json"
  tar -C "$d/img" -cf "$d/pause.tar" .
  mkdir -p "$C/bin"; mv "$d/pause.tar" "$C/bin/pause.tar"
fi

# containerd 2.1 (Kubernetes >= 1.36 wants 2.x; bookworm has 1.6), the CNI
# plugins and etcd, with a private apt state so the host's sources stay as
# they are.
if [ ! -x "$C/root/usr/bin/containerd" ] || [ ! -x "$C/root/usr/bin/etcd" ] || [ ! -x "$C/root/usr/lib/cni/bridge" ]; then
  d=$tmp/apt; mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs" "$d/root"
  cat >"$d/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
SRC
  opts=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache" -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update -qq
  (cd "$d/debs" && apt-get "${opts[@]}" download -qq containerd/sid containernetworking-plugins/sid etcd-server/trixie)
  for deb in "$d"/debs/*.deb; do dpkg-deb -x "$deb" "$d/root"; done
  rm -rf "$C/root"; mv "$d/root" "$C/root"
fi
echo "kube-build: $C ready"
