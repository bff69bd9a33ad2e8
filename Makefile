# certdesk: `make run` to try it, `make test` to check it. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup lint imports typecheck migrations-check test-postgres bench reset clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/certdesk migrate --noinput
	$(BIN)/certdesk demo
	$(BIN)/certdesk serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The floor plan: layers and forbidden imports (pyproject.toml, docs/architecture.md).
imports: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy .

migrations-check: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run

test: $(STAMP) lint imports typecheck migrations-check
	$(BIN)/pytest

# The same suite against PostgreSQL (set DATABASE_URL to choose another server).
test-postgres: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/removal.py

# A fresh demo on the next `make run`: the database, files and outbox go; the environment stays.
reset:
	rm -rf var

clean:
	rm -rf $(VENV) var/test.sqlite3* .pytest_cache .mypy_cache .ruff_cache
