# Every task has one entry point; `make help` lists them.
.DEFAULT_GOAL := help
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
MARIADB_URL ?= mysql://root@127.0.0.1:3306/test

help: ## List the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: ## Create .venv and install Parley with the development tools
	scripts/bootstrap.sh dev

run: ## Run the service on the embedded default (SQLite in ./data)
	scripts/serve.sh

test: ## Run the test suite (SQLite; Redis tests when a Redis answers)
	scripts/test.sh

test-postgres: install ## Run the test suite on PostgreSQL
	PARLEY_TEST_DATABASE_URL=$(PG_URL) .venv/bin/pytest

test-mariadb: install ## Run the test suite on MariaDB
	PARLEY_TEST_DATABASE_URL=$(MARIADB_URL) .venv/bin/pytest

lint: install ## ruff lint and format check, import-linter layer rules
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/lint-imports

typecheck: install ## mypy strict
	.venv/bin/mypy

migrate: install ## Upgrade the configured database to the newest schema
	.venv/bin/parley migrate

bench: ## Run the benchmark suite (see docs/performance.md)
	bash bench/run.sh

console-vendor: ## Copy the console's npm libraries as locked in src/parley/console/npm
	scripts/vendor-console.sh

console-screenshots: install ## Take the console's screenshots into docs/console (needs chromium)
	.venv/bin/python scripts/console_screenshots.py

ci: ## What CI runs
	bash .ci/run

.PHONY: help install run test test-postgres test-mariadb lint typecheck migrate bench console-vendor console-screenshots ci
