#!/usr/bin/env bash
# Builds (once) everything a single-node Kubernetes needs on a machine without a container engine
# that could run kind: the control plane and node binaries, crictl, CoreDNS, kube-router (the
# NetworkPolicy agent), local-path-provisioner (the default StorageClass) and the pause image's
# binary. Everything comes from the Go module proxy and Debian; nothing is pulled from a registry.
#   scripts/k8s/cluster-tools.sh          build what is missing, print the bin directory
# Results are cached outside the repository, keyed by version, in ${PHONICFLOW_CACHE}
# (default ~/.cache/phonicflow): a second run takes a second. Cold on 2 shared cores: ~30 min.
# Facts behind each step: ../../../shared/notes/local-cluster.md (also docs/kubernetes.md).
set -euo pipefail
cd "$(dirname "$0")"
source ./versions.sh

say() { printf '\033[1m[cluster-tools]\033[0m %s\n' "$*" >&2; }

# --- Debian: container runtime, etcd, CNI plugins, and what kube-proxy/kubelet shell out to ---
apt_packages=(containerd runc containernetworking-plugins etcd-server conntrack socat iptables ipset
  podman debootstrap uidmap slirp4netns fuse-overlayfs netavark aardvark-dns gcc libc6-dev)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  [ "$(id -u)" = 0 ] || { say "run as root or install: ${missing[*]}"; exit 1; }
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts containerd under systemd where there is one; the cluster runs its own instance
  command -v systemctl >/dev/null && systemctl disable --now containerd >/dev/null 2>&1 || true
fi

mkdir -p "$TOOLS_BIN" "$CACHE/src"
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOFLAGS=-buildvcs=false CGO_ENABLED=0
export GOTOOLCHAIN=local
# the builds are long and the cores are shared: everyone else goes first
go_() { nice -n 15 go "$@"; }
have() { [ -x "$TOOLS_BIN/$1" ] && [ "$(cat "$TOOLS_BIN/.$1.version" 2>/dev/null)" = "$2" ]; }
mark() { echo "$2" >"$TOOLS_BIN/.$1.version"; }

# --- Kubernetes: a wrapper module, because k8s.io/kubernetes replaces its 31 staging modules
# with ./staging/... paths, which `go install` refuses; pointing each at its published v0.x.y
# release builds the same code ---
k8s_components=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
need_k8s=()
for c in "${k8s_components[@]}"; do have "$c" "$K8S_VERSION" || need_k8s+=("$c"); done
if ((${#need_k8s[@]})); then
  src="$CACHE/src/kubernetes-$K8S_VERSION"
  mkdir -p "$src"
  if [ ! -s "$src/go.sum" ]; then
    say "resolving k8s.io/kubernetes@$K8S_VERSION (module proxy)"
    gomod=$(go_ mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    staging_minor="v0.${K8S_VERSION#v1.}"
    {
      echo "module phonicflow.local/kubernetes-build"
      echo
      echo "go 1.24.0"
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      for c in "${k8s_components[@]}"; do echo "tool k8s.io/kubernetes/cmd/$c"; done
      echo
      echo "replace ("
      sed -n 's|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*|\t\1 => \1 '"$staging_minor"'|p' "$gomod"
      echo ")"
    } >"$src/go.mod"
    (cd "$src" && go_ mod tidy)
  fi
  commit=$(cd "$src" && go_ mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Hash": "\(.*\)".*/\1/p' | head -1)
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=2000-01-01T00:00:00Z -X $pkg.gitCommit=${commit:-unknown}"
  done
  for c in "${need_k8s[@]}"; do
    say "building $c $K8S_VERSION (cold: kube-apiserver ~10 min, the others 1-3 min)"
    start=$SECONDS
    (cd "$src" && go_ build -trimpath -ldflags "$ldflags" -o "$TOOLS_BIN/$c" "k8s.io/kubernetes/cmd/$c")
    mark "$c" "$K8S_VERSION"
    say "built $c in $((SECONDS - start)) s"
  done
fi

# --- the pause (sandbox) image's binary, from the same module; static, so FROM scratch works ---
if ! have pause "$PAUSE_VERSION"; then
  pause_c="$GOMODCACHE/k8s.io/kubernetes@$K8S_VERSION/build/pause/linux/pause.c"
  [ -f "$pause_c" ] || go_ mod download "k8s.io/kubernetes@$K8S_VERSION"
  say "compiling pause $PAUSE_VERSION"
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION" -o "$TOOLS_BIN/pause" "$pause_c"
  strip "$TOOLS_BIN/pause"
  mark pause "$PAUSE_VERSION"
fi

# --- modules that `go install` builds as published ---
install_tool() { # name module@version
  local name=$1 target=$2 version=${2##*@} start=$SECONDS
  have "$name" "$version" && return 0
  say "building $name $version"
  GOBIN="$TOOLS_BIN" go_ install -trimpath -ldflags "-s -w" "$target"
  mark "$name" "$version"
  say "built $name in $((SECONDS - start)) s"
}
install_tool crictl "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
install_tool kube-router "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"
install_tool local-path-provisioner "github.com/rancher/local-path-provisioner@$LOCAL_PATH_VERSION"

# --- CoreDNS with only the plugins of kubeadm's Corefile: half the build of the full binary ---
if ! have coredns "$COREDNS_VERSION"; then
  src="$CACHE/src/coredns-$COREDNS_VERSION"
  mkdir -p "$src"
  cat >"$src/main.go" <<'GO'
// CoreDNS with the plugins kubeadm's default Corefile uses (built by scripts/k8s/cluster-tools.sh).
package main

import (
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"

	"github.com/coredns/coredns/coremain"
)

func main() { coremain.Run() }
GO
  if [ ! -s "$src/go.sum" ]; then
    printf 'module phonicflow.local/coredns-build\n\ngo 1.23.0\n\nrequire github.com/coredns/coredns %s\n' \
      "$COREDNS_VERSION" >"$src/go.mod"
    (cd "$src" && go_ mod tidy)
  fi
  say "building coredns $COREDNS_VERSION"
  start=$SECONDS
  (cd "$src" && go_ build -trimpath -ldflags "-s -w" -o "$TOOLS_BIN/coredns" .)
  mark coredns "$COREDNS_VERSION"
  say "built coredns in $((SECONDS - start)) s"
fi

echo "$TOOLS_BIN"
