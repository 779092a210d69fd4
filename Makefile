# Entry points; `make help` lists them. Each target installs what it needs first.
# uv is driven as `python3 -m uv` so a fresh machine needs no PATH changes after installing it.
PYTHON ?= python3
UV_VERSION ?= 0.13.9
UV := $(PYTHON) -m uv
DATA_DIR ?= .data

.DEFAULT_GOAL := help
.PHONY: help install fmt lint typecheck test check up down

help: ## List the entry points
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## Install uv (if missing) and every package of the workspace
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	@UV_PYTHON_DOWNLOADS=never $(UV) sync --all-packages --frozen --quiet

fmt: install ## Format and autofix the code
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

lint: install ## ruff, and the lock file matches pyproject.toml
	$(UV) lock --check
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: install ## mypy --strict over code and tests
	$(UV) run mypy

test: install ## Every test: unit, real NATS + PostgreSQL integration, end to end
	$(UV) run pytest

check: lint typecheck test ## What CI runs

up: install ## Run the whole system on embedded NATS and PostgreSQL (Ctrl-C stops it)
	$(UV) run ebaysync up --data-dir $(DATA_DIR)

down: install ## Stop a system started with `make up` in another terminal
	$(UV) run ebaysync down --data-dir $(DATA_DIR)

.PHONY: bench bench-scale bench-freshness
# `make bench` runs the scale bench smaller than `make bench-scale` (fewer sellers, no profile).
BENCH_SCALE_ARGS ?=
BENCH_SCALE_QUICK ?= --sellers 60 --measure 45 --profile-seconds 0
bench: install ## Writer rows/s (artifacts/bench.json), then a quick scale bench (artifacts/scale.json)
	$(UV) run python scripts/bench_writer.py $(BENCH_ARGS)
	$(UV) run python scripts/bench_scale.py $(BENCH_SCALE_QUICK) $(BENCH_SCALE_ARGS)

bench-scale: install ## Whole system at saturation: CPU ms per window per process, capacity (artifacts/scale.json)
	$(UV) run python scripts/bench_scale.py $(BENCH_SCALE_ARGS)

BENCH_FRESHNESS_ARGS ?=
bench-freshness: install ## Change at eBay -> committed row, p50/p99 per family: push, 30 % dropped, polling (artifacts/freshness.json)
	$(UV) run python scripts/bench_freshness.py $(BENCH_FRESHNESS_ARGS)

.PHONY: chaos
chaos: install ## Crash safety, full: kill -9 services and restart NATS/PostgreSQL during a 20-seller backfill
	CHAOS_SELLERS=$${CHAOS_SELLERS:-20} CHAOS_ROUNDS=$${CHAOS_ROUNDS:-16} $(UV) run pytest tests/e2e/test_chaos.py -v
