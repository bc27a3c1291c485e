#!/usr/bin/env bash
# Builds the four PhonicFlow images from the repository root with docker or podman.
#   scripts/k8s/build-images.sh [converter|backend|bot|emulator ...]   (default: all four)
# Environment: ENGINE (docker|podman; default: docker when its daemon answers, else podman),
# IMAGE_PREFIX (default phonicflow/), IMAGE_TAG (default dev), CACERT (a CA bundle handed to the
# build as the `cacert` secret; default the system bundle when it exists — needed behind a
# TLS-intercepting proxy, harmless otherwise, and never stored in a layer).
# The image names match the chart's defaults, docker-compose.yml and skaffold.yaml.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE_PREFIX=${IMAGE_PREFIX:-phonicflow/}
IMAGE_TAG=${IMAGE_TAG:-dev}
CACERT=${CACERT:-/etc/ssl/certs/ca-certificates.crt}
if [ -z "${ENGINE:-}" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker; else ENGINE=podman; fi
fi
declare -A DOCKERFILES=(
  [converter]=services/audio-converter/Dockerfile
  [backend]=services/backend/Dockerfile
  [bot]=services/bot/Dockerfile
  [emulator]=services/telegram-emulator/Dockerfile
)
say() { printf '\033[1m[images]\033[0m %s\n' "$*" >&2; }

images=("$@")
((${#images[@]})) || images=(converter bot emulator backend)
secret=()
[ -s "$CACERT" ] && secret=(--secret "id=cacert,src=$CACERT")
for name in "${images[@]}"; do
  file=${DOCKERFILES[$name]:-}
  [ -n "$file" ] || { say "unknown image '$name' (converter, backend, bot, emulator)"; exit 2; }
  ref="${IMAGE_PREFIX}${name}:${IMAGE_TAG}"
  say "building $ref from $file with $ENGINE"
  start=$SECONDS
  if [ "$ENGINE" = docker ]; then
    DOCKER_BUILDKIT=1 docker build "${secret[@]}" -f "$file" -t "$ref" .
  else
    podman build --format docker --layers "${secret[@]}" -f "$file" -t "$ref" .
  fi
  say "built $ref in $((SECONDS - start)) s"
done
"$ENGINE" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "^${IMAGE_PREFIX%/}" >&2 || true
