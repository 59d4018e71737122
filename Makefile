# Two commands matter: `make demo` and `make test`. Both build the pinned environment first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
NODE_TOOLS := tests/emulators/node_modules/.installed

.PHONY: env demo test lint typecheck docs lock clean bench bench-transfer

$(VENV)/.installed: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements/dev.txt
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

env: $(VENV)/.installed

# Azurite (the Azure Blob emulator) comes from npm, pinned by its lock file.
$(NODE_TOOLS): tests/emulators/package.json tests/emulators/package-lock.json
	cd tests/emulators && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Re-pin after changing dependencies in pyproject.toml.
lock: $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements/dev.txt

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: env
	$(BIN)/mypy

test: env $(NODE_TOOLS)
	$(BIN)/pytest

demo: env
	$(BIN)/python scripts/demo.py

bench-transfer: env
	$(BIN)/python bench/transfer.py

clean:
	rm -rf $(VENV) .airflow-home demo-output
