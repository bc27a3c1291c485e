# PhonicFlow Bot. The two commands a newcomer needs:  make run   and   make test
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv/bin
# Every target is a command, not a file: without this, the proto/ and bench/ directories made
# `make proto` and `make bench` say "up to date" and do nothing.
.PHONY: help setup run test system-test fault-test lint fmt proto bench-converter bench-backend bench-bot bench images \
	images-podman compose-up compose-down compose-smoke chart-test chart-docs kind-tools cluster-up cluster-down \
	cluster-images k8s-test k8s-dev k8s-run skaffold-tool k8s-e2e export-labels
export PATH := $(CURDIR)/.bin:$(CURDIR)/.venv/bin:$(HOME)/go/bin:$(PATH)

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: ## install system packages, uv, the locked .venv and helm (idempotent)
	@scripts/setup.sh

run: setup ## start the whole system locally (emulator + chat page when TELEGRAM_BOT_TOKEN is unset)
	@$(VENV)/python scripts/run_local.py

test: setup lint ## lint and the test suite, ~9 min (CI runs it first, then the targets below)
	@$(VENV)/pytest $(PYTEST_ARGS)

system-test: setup ## processes killed and restarted, whole-system starts: bot lifecycle, durable intake, e2e restarts (~5 min)
	@$(VENV)/pytest -m system $(PYTEST_ARGS)

fault-test: setup ## bot parts SIGKILLed and Redis restarted under load: nothing lost or doubled (~10 min)
	@$(VENV)/pytest -m faults tests/faults $(PYTEST_ARGS)

lint: ## ruff, formatting, mypy, and stale-stub check
	@$(VENV)/ruff check .
	@$(VENV)/ruff format --check .
	@$(VENV)/mypy
	@$(VENV)/python scripts/gen_proto.py --check

fmt: ## format and fix what ruff can
	@$(VENV)/ruff format .
	@$(VENV)/ruff check --fix .

proto: ## regenerate the gRPC stubs from proto/
	@$(VENV)/python scripts/gen_proto.py

bench-converter: setup ## benchmark the converter (docs/benchmarks.md)
	@$(VENV)/python bench/converter.py

bench-backend: setup ## benchmark the backend's /process per stage (docs/benchmarks.md)
	@$(VENV)/python bench/backend.py

bench-bot: setup ## benchmark the bot's overhead per update (docs/benchmarks.md)
	@$(VENV)/python bench/bot.py

bench: bench-converter bench-backend bench-bot ## all benchmarks

export-labels: setup ## write the learners' corrected verdicts as a dataset to var/labels (DATABASE_URL or make run's SQLite)
	@STORAGE_DIR=$${STORAGE_DIR:-var/feedback_storage} $(VENV)/python -m phonicflow_backend export-labels var/labels

# Kubernetes and containers
# (docs/kubernetes.md: images, the Helm chart, the local cluster, skaffold on kind, compose; none of
#  it runs in `make test` except the chart tests; `make k8s-test` is the in-cluster suite CI runs)
KIND ?= kind
SKAFFOLD ?= skaffold
KIND_VERSION ?= v0.30.0

images: ## build the four images (docker, or podman when no Docker daemon answers)
	@scripts/k8s/build-images.sh

images-podman: ## prepare podman (+ an offline debian base) and build the images with it
	@scripts/k8s/podman-setup.sh
	@ENGINE=podman scripts/k8s/build-images.sh

compose-up: ## run docker-compose.yml with the Telegram emulator (chat page on 127.0.0.1:8081)
	@TELEGRAM_BOT_TOKEN=1000000:local-emulator-token \
	 TELEGRAM_API_BASE_URL=http://emulator:8081/bot TELEGRAM_FILE_BASE_URL=http://emulator:8081/file/bot \
	 docker compose --profile emulator up -d --build

compose-down: ## stop the compose stack and drop its volumes
	@docker compose --profile emulator down -v

compose-smoke: setup ## podman: build the images, run compose, smoke /start + a voice note (slow)
	@scripts/k8s/compose-smoke.sh

chart-test: setup ## helm lint + render/validate the chart over its values matrix
	@$(VENV)/pytest -m chart tests/chart -q

chart-docs: setup ## regenerate the chart's README parameters and values.schema.json from values.yaml (+ the overlay)
	@$(VENV)/python scripts/chart_schema.py

kind-tools: ## install kind into .bin/ with go install (skaffold: see docs/kubernetes.md)
	@command -v $(KIND) >/dev/null || GOBIN=$(CURDIR)/.bin go install sigs.k8s.io/kind@$(KIND_VERSION)

cluster-up: ## start the local Kubernetes cluster: kind where Docker runs, else one from upstream binaries (root)
	@scripts/k8s/cluster.sh up

cluster-down: ## stop and remove the local cluster (builds and images stay cached)
	@scripts/k8s/cluster.sh down

cluster-images: ## build the images and load them onto the cluster's node
	@scripts/k8s/cluster-images.sh

k8s-test: setup cluster-up cluster-images ## in-cluster suite: helm install/test, the e2e journeys, faults, upgrades
	@scripts/k8s/k8s-test.sh

k8s-dev: ## skaffold dev: rebuild and redeploy on every change (emulator in-cluster; -p kind or -p local)
	@if [ "$$(scripts/k8s/cluster.sh provider)" = kind ]; then \
	  $(SKAFFOLD) dev -p kind --kube-context kind-phonicflow --port-forward; \
	else scripts/k8s/skaffold-local.sh dev --port-forward; fi

k8s-run: ## build and deploy once (emulator in-cluster): kind, else the local cluster (podman + import)
	@if [ "$$(scripts/k8s/cluster.sh provider)" = kind ]; then \
	  $(SKAFFOLD) run -p kind --kube-context kind-phonicflow; \
	else scripts/k8s/skaffold-local.sh run; fi

skaffold-tool: ## build skaffold from the Go module proxy into the tools cache (once; many minutes cold)
	@scripts/k8s/skaffold-tool.sh

k8s-e2e: setup ## against the deployed kind release: helm test, then the smoke through the emulator
	@scripts/k8s/k8s-e2e.sh
