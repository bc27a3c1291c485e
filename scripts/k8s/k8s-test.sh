#!/usr/bin/env bash
# The in-cluster suite (`make k8s-test`, after `make cluster-up cluster-images`): pytest --k8s
# against the cluster that scripts/k8s/cluster.sh runs. In this order, on one release:
#   tests/k8s/test_10_install.py       restricted Pod Security, helm test under enforced
#                                      NetworkPolicies, no restarts, a no-op upgrade rolls nothing
#   tests/e2e/test_learner_journeys.py the learner journeys of the local e2e suite, unchanged,
#                                      against the chart's pods (the `system` fixture, --k8s)
#   tests/k8s/test_20_* ... test_90_*  what only a cluster shows: NetworkPolicies, pods deleted
#                                      mid-conversation, upgrades and rollbacks under traffic, the
#                                      intake switched to webhook and back, uninstall
# Environment: PYTEST_ARGS (extra pytest options), PHONICFLOW_K8S_KEEP=1 (keep the namespace).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/k8s/versions.sh

KUBECONFIG=$(scripts/k8s/cluster.sh kubeconfig)
export KUBECONFIG
# the cluster's own kubectl (client and server of one version) when the local cluster built it
[ -x "$TOOLS_BIN/kubectl" ] && export KUBECTL="$TOOLS_BIN/kubectl"
export PATH="$PWD/.bin:$PATH"

tests=(tests/k8s/test_10_*.py tests/e2e/test_learner_journeys.py)
for file in tests/k8s/test_[2-9]*.py; do tests+=("$file"); done
start=$SECONDS
status=0
# shellcheck disable=SC2086 # PYTEST_ARGS is a list of options
.venv/bin/pytest --k8s -p no:cacheprovider --timeout 900 ${PYTEST_ARGS:-} "${tests[@]}" || status=$?
printf '\033[1m[k8s-test]\033[0m pytest finished in %s s with exit code %s\n' "$((SECONDS - start))" "$status" >&2
exit "$status"
