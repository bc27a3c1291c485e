#!/usr/bin/env bash
# Builds the project's images and puts them on the cluster's node (what `make k8s-test` does
# before installing the chart). Layers are cached by the engine (podman: /var/lib/containers,
# outside the repository), and an image the node already has in exactly this build is not
# imported again, so a second run after a code change takes seconds to a minute.
#   scripts/k8s/cluster-images.sh            build + load the four images (and stand-ins, see below)
#   IMAGE=phonicflow/bot:TAG scripts/k8s/cluster-images.sh
#                                            build + load that one image under that reference:
#                                            skaffold's custom-build contract (the `local` profile
#                                            of skaffold.yaml runs this as its buildCommand)
# Environment: IMAGE_TAG (dev), SKIP_BUILD=1 (load what is built), ENGINE (docker|podman).
# Where no registry is reachable (the local cluster), the official Redis and PostgreSQL images the
# chart defaults to cannot be pulled: Debian-built stand-ins are tagged with those exact
# references (scripts/k8s/standins/), so the chart's defaults resolve to them on the node.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/k8s/versions.sh

IMAGE_TAG=${IMAGE_TAG:-dev}
PREFIX=docker.io/phonicflow/
say() { printf '\033[1m[cluster-images]\033[0m %s\n' "$*" >&2; }

if [ -z "${ENGINE:-}" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker; else ENGINE=podman; fi
fi
[ "$ENGINE" = podman ] && scripts/k8s/podman-setup.sh >/dev/null

names=(converter backend bot emulator)
if [ -n "${IMAGE:-}" ]; then
  # one image, named by skaffold: [registry/]phonicflow/<name>:<tag>. A name without a registry
  # host is docker.io's, as the node's containerd reads it (podman would say localhost/).
  repo=${IMAGE%:*} IMAGE_TAG=${IMAGE##*:}
  [ "$repo" != "$IMAGE" ] && [[ $IMAGE_TAG != */* ]] || { say "IMAGE must be name:tag, not '$IMAGE'"; exit 2; }
  host=${repo%%/*}
  [[ $repo == */* && ($host == *.* || $host == *:* || $host == localhost) ]] || repo=docker.io/$repo
  names=("${repo##*/}") PREFIX=${repo%/*}/
fi
refs=()
for name in "${names[@]}"; do refs+=("${PREFIX}${name}:${IMAGE_TAG}"); done
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  start=$SECONDS
  ENGINE=$ENGINE IMAGE_PREFIX=$PREFIX IMAGE_TAG=$IMAGE_TAG scripts/k8s/build-images.sh "${names[@]}" 2>&1 |
    grep -E '^\S*\[images\]|Error|error:' >&2 || true
  for ref in "${refs[@]}"; do "$ENGINE" image inspect "$ref" >/dev/null || { say "build failed: $ref"; exit 1; }; done
  say "images built in $((SECONDS - start)) s"
fi

if [ -n "${IMAGE:-}" ] && [ "${PUSH_IMAGE:-false}" = false ]; then
  # skaffold without a registry deploys <repository>:<image ID> (it retags the build so, see
  # TagWithImageID in its pkg/skaffold/docker): the node gets that name too (no second import)
  id=$("$ENGINE" image inspect --format '{{.Id}}' "${refs[0]}")
  "$ENGINE" tag "${refs[0]}" "$repo:${id#sha256:}"
  refs+=("$repo:${id#sha256:}")
fi
# a second tag of the same builds: tests/k8s/test_40_upgrades.py upgrades to it
if [ -z "${IMAGE:-}" ]; then
  for name in bot converter backend; do
    "$ENGINE" tag "${PREFIX}${name}:${IMAGE_TAG}" "${PREFIX}${name}:${IMAGE_TAG}-next"
    refs+=("${PREFIX}${name}:${IMAGE_TAG}-next")
  done
fi

provider=${CLUSTER_PROVIDER:-}
[ -n "$provider" ] || { [ "$ENGINE" = docker ] && provider=kind || provider=local; }
if [ "$provider" = local ]; then
  for standin in scripts/k8s/standins/*.Containerfile; do
    # the first line names the reference it stands in for: "# stand-in for docker.io/library/x:y"
    ref=$(sed -n '1s/^# stand-in for \(\S*\).*/\1/p' "$standin")
    [ -n "$ref" ] || { say "$standin: first line must be '# stand-in for <reference>'"; exit 1; }
    if [ "${SKIP_BUILD:-0}" != 1 ] || ! podman image exists "$ref"; then
      podman build -q --layers -f "$standin" -t "$ref" scripts/k8s/standins >/dev/null
    fi
    refs+=("$ref")
  done
fi

start=$SECONDS
CLUSTER_PROVIDER=$provider scripts/k8s/cluster.sh load "${refs[@]}"
say "images on the node in $((SECONDS - start)) s: ${refs[*]}"
