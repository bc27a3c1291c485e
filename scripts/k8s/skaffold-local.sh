#!/usr/bin/env bash
# skaffold against the project's own single-node cluster (scripts/k8s/local-cluster.sh, context
# phonicflow-local), what `make k8s-dev` / `make k8s-run` run where kind is not in use:
#   scripts/k8s/skaffold-local.sh run|dev|build|delete [skaffold options]
# The `local` profile of skaffold.yaml builds each image with podman and imports it into the
# node's containerd (scripts/k8s/cluster-images.sh as skaffold's custom build). Without a
# registry skaffold asks a Docker API for each built image's ID and tags it by that ID; there is
# no Docker engine here, so podman serves that API on a private socket for as long as skaffold runs.
# Environment: SKAFFOLD (default: built once by scripts/k8s/skaffold-tool.sh), KUBECONFIG
# (default: the local cluster's).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/k8s/versions.sh

say() { printf '\033[1m[skaffold-local]\033[0m %s\n' "$*" >&2; }
SKAFFOLD=${SKAFFOLD:-$(scripts/k8s/skaffold-tool.sh)}
export KUBECONFIG=${KUBECONFIG:-$(CLUSTER_PROVIDER=local scripts/k8s/cluster.sh kubeconfig)}
# the build command must not take the podman socket below for a Docker engine able to run kind
export CLUSTER_PROVIDER=local ENGINE=podman SKAFFOLD_UPDATE_CHECK=false
# helm from .bin (make setup), kubectl (port-forward) from the cluster's own build
export PATH="$PWD/.bin:$TOOLS_BIN:$PATH"
scripts/k8s/podman-setup.sh >/dev/null

sock_dir=$(mktemp -d)
export DOCKER_HOST="unix://$sock_dir/podman.sock"
podman system service --time=0 "$DOCKER_HOST" &
service=$!
trap 'kill "$service" 2>/dev/null; wait "$service" 2>/dev/null; rm -rf "$sock_dir"' EXIT
timeout 30 bash -c 'until podman --url "$DOCKER_HOST" version >/dev/null 2>&1; do sleep 0.2; done' ||
  { say "podman system service did not answer on $DOCKER_HOST"; exit 1; }

command=${1:-run}
(($#)) && shift
say "$SKAFFOLD $command -p local --kube-context phonicflow-local $*"
status=0
"$SKAFFOLD" "$command" -p local --kube-context phonicflow-local "$@" || status=$?
exit "$status"
