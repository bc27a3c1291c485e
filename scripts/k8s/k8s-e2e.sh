#!/usr/bin/env bash
# End-to-end smoke against the chart deployed in a cluster with the emulator on (the kind
# profile of skaffold.yaml: `make k8s-run` or `make k8s-dev`): `helm test`, then port-forward the
# in-cluster Telegram emulator and play scripts/k8s/smoke.py through it.
# Environment: NAMESPACE (phonicflow), RELEASE (phonicflow-bot), SMOKE_ARGS (options of smoke.py).
set -euo pipefail
cd "$(dirname "$0")/../.."

NAMESPACE=${NAMESPACE:-phonicflow}
RELEASE=${RELEASE:-phonicflow-bot}
say() { printf '\033[1m[k8s-e2e]\033[0m %s\n' "$*" >&2; }

emulator_service=$(kubectl -n "$NAMESPACE" get svc \
  -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=emulator" \
  -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)
[ -n "$emulator_service" ] || {
  say "no emulator Service in namespace $NAMESPACE: deploy with the kind profile (emulator.enabled=true)"
  exit 1
}

say "waiting for the release's pods to be ready"
kubectl -n "$NAMESPACE" wait --for=condition=Available --timeout=600s \
  deploy -l "app.kubernetes.io/instance=$RELEASE"

say "helm test (converter gRPC health, backend and bot health from inside the namespace)"
# no --logs: the test pods are deleted once done, and hook-output-log-policy prints their output
helm test "$RELEASE" -n "$NAMESPACE"

port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
kubectl -n "$NAMESPACE" port-forward "svc/$emulator_service" "$port:8081" >/tmp/phonicflow-port-forward.log 2>&1 &
forward=$!
trap 'kill "$forward" 2>/dev/null || true' EXIT
say "emulator port-forwarded to 127.0.0.1:$port"
.venv/bin/python scripts/k8s/smoke.py --emulator-url "http://127.0.0.1:$port" ${SMOKE_ARGS:-}
