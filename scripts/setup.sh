#!/usr/bin/env bash
# Installs everything the run and test commands need, on a bare Debian/Ubuntu machine or an
# already-prepared one (then it takes a few seconds): system packages (when root and missing),
# uv, the locked virtualenv in .venv/, and helm (go install) for the chart tests.
# Called by `make run` and `make test`; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(ffmpeg redis-server redis-tools espeak-ng sox chromium postgresql
  mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 flite)  # last line: voices of bench/scoring_eval.py
HELM_VERSION=v3.19.0

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# npm runs readme-generator-for-helm (the chart's schema and README); a node from elsewhere will do
command -v npm >/dev/null || missing+=(npm)
# The MBROLA voices are in Debian's contrib/non-free components; a bare machine has only main.
# One extra sources file, written once (CI does the same through this script).
CONTRIB_LIST=/etc/apt/sources.list.d/phonicflow-contrib.list
add_contrib() {
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  grep -qs '^ID=debian' /etc/os-release && [ -n "$codename" ] && [ ! -e "$CONTRIB_LIST" ] || return 0
  apt-cache show mbrola-us1 >/dev/null 2>&1 && return 0
  say "adding Debian contrib/non-free to apt sources (MBROLA voices): $CONTRIB_LIST"
  # same keyring as the main sources, or apt refuses two Signed-By values for one archive
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg opts=""
  [ -e "$keyring" ] && opts="[signed-by=$keyring] "
  echo "deb ${opts}http://deb.debian.org/debian $codename contrib non-free" | $1 tee "$CONTRIB_LIST" >/dev/null
}
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    add_contrib ""
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
    say "installing system packages with sudo: ${missing[*]}"
    add_contrib sudo
    sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    say "please install these system packages first: ${missing[*]}"; exit 1
  fi
fi

# uv manages the Python environment; the CA bundle matters behind intercepting proxies
export UV_SYSTEM_CERTS=1
if ! command -v uv >/dev/null; then
  if [ -x "$HOME/.local/bin/uv" ]; then export PATH="$HOME/.local/bin:$PATH"
  else
    say "installing uv"
    python3 -m pip install --quiet --user uv==0.13.8 2>/dev/null || python3 -m pip install --quiet uv==0.13.8
    export PATH="$HOME/.local/bin:$PATH"
  fi
fi
say "syncing .venv from uv.lock"
# compiled at install time: services start faster, and no first-import compile happens under
# pytest's warnings-as-errors
uv sync --all-packages --locked --quiet --compile-bytecode

# helm renders the chart in the chart tests; kept in .bin/ so nothing global is touched.
# Built with the ldflags of helm's own release Makefile: without them `helm template` assumes
# Kubernetes 1.20 when it has no cluster (chartutil's defaults), which the chart's kubeVersion
# refuses, and skaffold renders with `helm template` before it deploys. 1.34 = helm v3.19's
# client-go v0.34, as its released binaries say.
helm_build="$HELM_VERSION k8s-1.34"
# (the Makefile puts .bin first on PATH: a helm found elsewhere is the user's own)
helm_found=$(command -v helm || true)
if [ "${SKIP_HELM:-0}" != 1 ] && { [ -z "$helm_found" ] || [ "$helm_found" = "$PWD/.bin/helm" ]; } &&
    { [ ! -x .bin/helm ] || [ "$(cat .bin/.helm-build 2>/dev/null)" != "$helm_build" ]; }; then
  if command -v go >/dev/null; then
    say "installing helm $HELM_VERSION with go install (a minute or two, once)"
    ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    for pkg in chartutil lint/rules; do
      ldflags+=" -X helm.sh/helm/v3/pkg/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$pkg.k8sVersionMinor=34"
    done
    GOBIN="$PWD/.bin" go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    echo "$helm_build" >.bin/.helm-build
  else
    say "go is not installed: the chart tests will fail until helm is on PATH"
  fi
fi

# readme-generator-for-helm (pinned in scripts/chart-docs/package-lock.json) generates the chart's
# README parameters and values.schema.json; the chart tests check both are in step, offline
if [ ! -x scripts/chart-docs/node_modules/.bin/readme-generator ] \
    || [ scripts/chart-docs/package-lock.json -nt scripts/chart-docs/node_modules/.package-lock.json ]; then
  say "installing readme-generator-for-helm into scripts/chart-docs/node_modules"
  npm ci --prefix scripts/chart-docs --no-audit --no-fund --loglevel=error >/dev/null
fi
