# PhonicFlow Bot. The two commands a newcomer needs:  make run   and   make test
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv/bin
export PATH := $(CURDIR)/.bin:$(CURDIR)/.venv/bin:$(HOME)/go/bin:$(PATH)

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: ## install system packages, uv, the locked .venv and helm (idempotent)
	@scripts/setup.sh

run: setup ## start the whole system locally (emulator + chat page when TELEGRAM_BOT_TOKEN is unset)
	@$(VENV)/python scripts/run_local.py

test: setup lint ## run the whole test suite (what CI runs)
	@$(VENV)/pytest $(PYTEST_ARGS)

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
