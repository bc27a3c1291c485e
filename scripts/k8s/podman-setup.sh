#!/usr/bin/env bash
# Prepares podman on a Debian machine without a Docker engine or registry access, so the images
# can be built and the compose stack run here (what `make images-podman` and `make compose-smoke`
# call first; safe to run again, a few seconds once done):
#   - installs podman, runc, debootstrap (apt, root only);
#   - writes /etc/containers/containers.conf for a machine without systemd cgroups;
#   - creates the base image docker.io/library/debian:bookworm-slim with debootstrap, because no
#     container registry is reachable (skip with a registry: the image is then simply pulled).
set -euo pipefail

BASE_IMAGE=docker.io/library/debian:bookworm-slim
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { printf '\033[1m[podman-setup]\033[0m %s\n' "$*" >&2; }

need=()
for cmd in podman runc debootstrap iptables; do command -v "$cmd" >/dev/null || need+=("$cmd"); done
if ((${#need[@]})); then
  [ "$(id -u)" = 0 ] || { say "run as root or install: ${need[*]}"; exit 1; }
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    podman runc debootstrap uidmap slirp4netns fuse-overlayfs netavark aardvark-dns iptables >/dev/null
fi

conf=/etc/containers/containers.conf
if [ "$(id -u)" = 0 ] && ! grep -q 'network_backend = "netavark"' "$conf" 2>/dev/null; then
  say "writing $conf"
  mkdir -p /etc/containers
  cat >"$conf" <<'CONF'
# written by scripts/k8s/podman-setup.sh: no systemd, no journald on these machines
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
# netavark + aardvark-dns: containers on a user network resolve each other by name
network_backend = "netavark"
CONF
fi

if podman image exists "$BASE_IMAGE"; then
  say "$BASE_IMAGE present"
elif podman pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
  say "pulled $BASE_IMAGE"
else
  say "no registry: building $BASE_IMAGE with debootstrap"
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >/dev/null
  # slim like the official image: no apt lists, docs or man pages
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/cache/apt/*.bin
  tar -C "$root" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  say "imported $BASE_IMAGE"
fi
