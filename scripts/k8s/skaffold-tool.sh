#!/usr/bin/env bash
# Builds (once) skaffold from the Go module proxy into the tools cache and prints its path.
#   scripts/k8s/skaffold-tool.sh          build when missing, print ${TOOLS_BIN}/skaffold
# `go install github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold@vX` is refused because
# skaffold's go.mod has replace directives; a wrapper module that requires skaffold and repeats
# those replaces (all of them point at published versions) builds the same code, as
# cluster-tools.sh does for Kubernetes. Cached in ${PHONICFLOW_CACHE} (~/.cache/phonicflow),
# keyed by version: a second run takes a second. Cold on 2 shared cores: see docs/kubernetes.md.
set -euo pipefail
cd "$(dirname "$0")"
source ./versions.sh

say() { printf '\033[1m[skaffold-tool]\033[0m %s\n' "$*" >&2; }
module=github.com/GoogleContainerTools/skaffold/v2
bin="$TOOLS_BIN/skaffold"
if [ -x "$bin" ] && [ "$(cat "$TOOLS_BIN/.skaffold.version" 2>/dev/null)" = "$SKAFFOLD_VERSION" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$TOOLS_BIN" "$CACHE/src"
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOFLAGS=-buildvcs=false CGO_ENABLED=0
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
go_() { nice -n 15 go "$@"; } # a long build on shared cores: everyone else goes first

src="$CACHE/src/skaffold-$SKAFFOLD_VERSION"
mkdir -p "$src"
if [ ! -s "$src/go.sum" ]; then
  say "resolving $module@$SKAFFOLD_VERSION (module proxy)"
  gomod=$(go_ mod download -json "$module@$SKAFFOLD_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module phonicflow.local/skaffold-build"
    echo
    sed -n 's/^go .*/&/p' "$gomod" | head -1
    echo
    echo "require $module $SKAFFOLD_VERSION"
    echo
    echo "tool $module/cmd/skaffold"
    echo
    # replace/exclude only apply in the main module: repeat skaffold's own (single-line form)
    grep -E '^(replace|exclude) ' "$gomod"
  } >"$src/go.mod"
  (cd "$src" && go_ mod tidy)
fi

say "building skaffold $SKAFFOLD_VERSION (cold on 2 shared cores: many minutes)"
start=$SECONDS
ldflags="-s -w -X $module/pkg/skaffold/version.version=$SKAFFOLD_VERSION"
ldflags+=" -X $module/pkg/skaffold/version.buildDate=2000-01-01T00:00:00Z"
(cd "$src" && go_ build -trimpath -ldflags "$ldflags" -o "$bin" "$module/cmd/skaffold")
echo "$SKAFFOLD_VERSION" >"$TOOLS_BIN/.skaffold.version"
say "built skaffold in $((SECONDS - start)) s"
echo "$bin"
