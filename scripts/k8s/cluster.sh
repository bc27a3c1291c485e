#!/usr/bin/env bash
# The one entry point for "a local Kubernetes cluster" (make cluster-up / cluster-down / k8s-test):
#   scripts/k8s/cluster.sh up | down | status | kubeconfig | provider | load REF...
# Where a Docker engine answers (or CLUSTER_PROVIDER=kind), kind runs the cluster from
# scripts/k8s/kind-config.yaml, the user's path. Where none can run kind nodes (CI here),
# scripts/k8s/local-cluster.sh runs a real single-node cluster from upstream binaries.
# Either way `kubeconfig` prints the path of a kubeconfig whose current context is the cluster,
# and `load` puts locally built images on its node(s).
set -euo pipefail
cd "$(dirname "$0")"
source ./versions.sh

say() { printf '\033[1m[cluster]\033[0m %s\n' "$*" >&2; }

provider=${CLUSTER_PROVIDER:-}
if [ -z "$provider" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then provider=kind; else provider=local; fi
fi
KIND=${KIND:-kind}
KIND_KUBECONFIG="$CACHE/kind-$KIND_CLUSTER_NAME.kubeconfig"

kind_exists() { "$KIND" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER_NAME"; }

case "$provider:${1:-}" in
  *:provider) echo "$provider" ;; # kind or local: which skaffold profile fits (make k8s-dev)
  local:up | local:down | local:status) exec ./local-cluster.sh "$1" ;;
  local:kubeconfig) echo "$CLUSTER_DIR/kubeconfig" ;;
  local:load) shift; exec ./local-cluster.sh load "$@" ;;
  kind:up)
    command -v "$KIND" >/dev/null || { say "kind is not installed: make kind-tools"; exit 1; }
    kind_exists || "$KIND" create cluster --name "$KIND_CLUSTER_NAME" --config kind-config.yaml --wait 180s
    mkdir -p "$CACHE"
    "$KIND" get kubeconfig --name "$KIND_CLUSTER_NAME" >"$KIND_KUBECONFIG"
    say "kind cluster $KIND_CLUSTER_NAME up: export KUBECONFIG=$KIND_KUBECONFIG (context kind-$KIND_CLUSTER_NAME)"
    ;;
  kind:down) "$KIND" delete cluster --name "$KIND_CLUSTER_NAME"; rm -f "$KIND_KUBECONFIG" ;;
  kind:status) kind_exists && kubectl --kubeconfig "$KIND_KUBECONFIG" get --raw /readyz >/dev/null ;;
  kind:kubeconfig) echo "$KIND_KUBECONFIG" ;;
  kind:load)
    shift
    for ref in "$@"; do
      if command -v docker >/dev/null && docker image inspect "$ref" >/dev/null 2>&1; then
        "$KIND" load docker-image --name "$KIND_CLUSTER_NAME" "$ref"
      else # podman-built: kind takes an archive
        archive=$(mktemp --suffix .tar)
        podman save --format docker-archive -o "$archive" "$ref"
        "$KIND" load image-archive --name "$KIND_CLUSTER_NAME" "$archive"
        rm -f "$archive"
      fi
    done
    ;;
  *) echo "usage: $0 up|down|status|kubeconfig|provider|load IMAGE...   (CLUSTER_PROVIDER=kind|local)" >&2; exit 2 ;;
esac
