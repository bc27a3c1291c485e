#!/usr/bin/env bash
# Builds the images with podman, runs docker-compose.yml with podman-compose (profile
# "emulator": the bot talks to the Telegram emulator) and plays the smoke scenario against the
# containers (scripts/k8s/smoke.py): a learner sends /start and a voice note and gets replies.
# Slow (image builds): `make compose-smoke`, not part of `make test`.
# Environment: KEEP=1 leaves the stack running afterwards; SKIP_BUILD=1 reuses built images;
# SMOKE_ARGS passes options to smoke.py (e.g. --no-voice).
set -euo pipefail
cd "$(dirname "$0")/../.."

PROJECT=phonicflow-smoke
EMULATOR_TOKEN=1000000:local-emulator-token
say() { printf '\033[1m[compose-smoke]\033[0m %s\n' "$*" >&2; }
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

scripts/k8s/podman-setup.sh
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  ENGINE=podman scripts/k8s/build-images.sh
  say "building the local Redis stand-in (no registry here)"
  podman build -q -f scripts/k8s/standins/redis.Containerfile -t phonicflow/redis-local:dev scripts/k8s/standins >/dev/null
fi

export UV_SYSTEM_CERTS=1
compose() { uvx --quiet podman-compose==1.6.0 -p "$PROJECT" --profile emulator "$@"; }

# the bot and the emulator share the emulator's (non-secret) token
export TELEGRAM_BOT_TOKEN=$EMULATOR_TOKEN
export TELEGRAM_API_BASE_URL=http://emulator:8081/bot
export TELEGRAM_FILE_BASE_URL=http://emulator:8081/file/bot
export REDIS_IMAGE=localhost/phonicflow/redis-local:dev
export IMAGE_PREFIX=localhost/phonicflow/
EMULATOR_PUBLISH_PORT=$(free_port)
BOT_HEALTH_PUBLISH_PORT=$(free_port)
export EMULATOR_PUBLISH_PORT BOT_HEALTH_PUBLISH_PORT

cleanup() {
  status=$?
  if [ "$status" != 0 ]; then
    say "logs of every container (the smoke failed):"
    compose logs --tail 80 2>&1 | grep -v '^$' >&2 || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    say "KEEP=1: stack left running (emulator chat page http://127.0.0.1:$EMULATOR_PUBLISH_PORT/); stop with: uvx podman-compose -p $PROJECT --profile emulator down -v"
  else
    compose down -v >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap cleanup EXIT

say "starting the stack (project $PROJECT, emulator on 127.0.0.1:$EMULATOR_PUBLISH_PORT)"
compose up -d --no-build
start=$SECONDS
# The backend sits on the internal network only (nothing published): ask it from inside whether
# its speech models are loaded, since the bot's /readyz checks only that the backend is alive.
say "waiting for the backend to load its speech models"
until podman exec "${PROJECT}_backend_1" python -c \
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=3)" 2>/dev/null; do
  ((SECONDS - start < 300)) || { say "the backend never became ready"; exit 1; }
  sleep 2
done
say "backend ready after $((SECONDS - start)) s"
.venv/bin/python scripts/k8s/smoke.py --emulator-url "http://127.0.0.1:$EMULATOR_PUBLISH_PORT" \
  --wait-ready "http://127.0.0.1:$BOT_HEALTH_PUBLISH_PORT/readyz" ${SMOKE_ARGS:-}
say "smoke passed in $((SECONDS - start)) s; container states:"
podman ps --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}} {{.Status}}' >&2
say "bot /readyz: $(curl -fsS "http://127.0.0.1:$BOT_HEALTH_PUBLISH_PORT/readyz" || echo unreachable)"
