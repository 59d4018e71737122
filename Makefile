# Two commands matter: `make demo` and `make test`. Both build the pinned environment first.
# `make help` lists the targets, with what each CI stage takes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
NODE_TOOLS := tests/emulators/node_modules/.installed

.PHONY: env demo dist test test-quick lint typecheck docs lock clean bench bench-transfer test-compat test-distributed
.PHONY: help mutate
.PHONY: bench-polling bench-triggerer bench-rate-budget bench-worker-slots bench-import bench-shared-budget bench-try-setup

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

# The system tests' browser: Debian's Chromium (root installs it via apt when it is missing), and
# Playwright's driver from npm, pinned by its lock file (it downloads no browser of its own).
CHROMIUM := /usr/bin/chromium
SYSTEM_TOOLS := tests/system/node_modules/.installed

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

$(SYSTEM_TOOLS): tests/system/package.json tests/system/package-lock.json | $(CHROMIUM)
	cd tests/system && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The shared request budget's tests (tests/hooks/test_shared_budget.py) and its bench run a real
# Redis: Debian's redis-server (root installs it via apt when it is missing), no service started.
REDIS_SERVER := /usr/bin/redis-server

# The distributed deployment test (tests/distributed) also runs Debian's PostgreSQL 15.
POSTGRES := /usr/lib/postgresql/15/bin/pg_ctl

$(POSTGRES):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql

$(REDIS_SERVER):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server

# Re-pin after changing dependencies in pyproject.toml.
lock: env
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements/dev.txt

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: env
	$(BIN)/mypy

# The whole suite (tests/system and tests/distributed apart) on PYTEST_WORKERS xdist workers: most of
# its time is spent waiting (dag.test() polls, simulated renders, retries' backoff), so two workers
# pay even on a loaded 2-core machine. Each worker has its own Airflow home, SQLite DB, emulators
# and simulator (tests/conftest.py); `make test PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= 2

test: env $(NODE_TOOLS) $(REDIS_SERVER)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --durations=20

# The edit-run loop: the unit tests of every package (models, hooks with respx and real HTTP on
# 127.0.0.1, triggers, the outcome policy, redaction, the transfer's units and its file/S3/GCS
# storage) without npm, root or dag.test() runs: pytest -m quick (the marks are set in
# tests/conftest.py by what a test needs: e2e, npm, redis, subprocess, slow). Under 3 minutes on 2 cores.
test-quick: env
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m quick -p no:cacheprovider

# A real deployment (api-server, scheduler, dag-processor, triggerer) driven by Debian's Chromium:
# the UI view, the approval clicks, the Test button, triggerer kills and secrets in its logs. About
# 8 to 10 minutes on 2 cores, so it is kept out of `make test` (tests/system is not collected unless
# named) and `.ci/run` runs it after `make test`.
test-system: env $(NODE_TOOLS) $(SYSTEM_TOOLS) $(REDIS_SERVER)
	$(BIN)/pytest -p no:cacheprovider tests/system

# Airflow scaled out (CeleryExecutor: 2 workers, 2 triggerers, Postgres, Redis) running 40+ mapped
# deferrable jobs while a triggerer and a worker are killed: 5 to 8 minutes on 2 cores, so it is
# not part of `make test` (tests/distributed is kept out of pytest's default testpaths). It is one
# long test with its own timeout: no stack dump after the suite's 4 minutes (faulthandler_timeout).
test-distributed: env $(POSTGRES) $(REDIS_SERVER)
	$(BIN)/pytest -p no:cacheprovider -s -o faulthandler_timeout=0 tests/distributed

# Plant known bugs one at a time in the money, retry, secret, pricing, trust, commit and polling
# code and run the tests that guard each (scripts/mutate.py; not in CI, 15 to 30 minutes). Run it
# when a promise's code changes; its last score is in docs/internals.rst.
mutate: env $(NODE_TOOLS)
	$(BIN)/python scripts/mutate.py

# The docs site (Sphinx), warnings as errors: a broken reference or include fails the build.
# Autodoc imports Airflow: a throwaway AIRFLOW_HOME, removed whatever the build's outcome.
docs: env
	home=$$(mktemp -d -t empiriolabs-docs-airflow-home-XXXXXX); \
	AIRFLOW_HOME=$$home $(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html; \
	status=$$?; rm -rf "$$home"; exit $$status

# The suite's core on the oldest Airflow the provider declares, in its own venv built from the same
# lock with apache-airflow swapped. The newest, 3.3.2, is the lock's own Airflow: `make test` runs
# the whole suite on it already, so compat does not run it again (add it here when the lock moves
# past the newest declared version). `uv pip compile` reads the lock as its preferences, so only
# what the swapped Airflow requires moves (its core, task SDK and a few pins that Airflow bounds);
# the resolved set is kept in the venv for inspection.
COMPAT_AIRFLOW_VERSIONS ?= 3.3.0
COMPAT_TESTS := tests/models/test_models.py tests/hooks tests/operators tests/triggers tests/sensors tests/example_dags

.venv-compat-%/.installed: pyproject.toml requirements/dev.txt $(VENV)/.installed
	rm -rf .venv-compat-$*
	$(BIN)/uv venv -q --python $(PYTHON) .venv-compat-$*
	cp requirements/dev.txt .venv-compat-$*/requirements.txt
	echo "apache-airflow==$*" > .venv-compat-$*/airflow.txt
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --python-version 3.11 \
		--override .venv-compat-$*/airflow.txt -o .venv-compat-$*/requirements.txt
	$(BIN)/uv pip sync -q --python .venv-compat-$*/bin/python .venv-compat-$*/requirements.txt
	$(BIN)/uv pip install -q --python .venv-compat-$*/bin/python --no-deps -e .
	touch $@

test-compat: $(NODE_TOOLS) $(REDIS_SERVER) $(foreach v,$(COMPAT_AIRFLOW_VERSIONS),.venv-compat-$(v)/.installed)
	set -e; for v in $(COMPAT_AIRFLOW_VERSIONS); do \
		echo "== Airflow $$v"; \
		.venv-compat-$$v/bin/python -c "import airflow, sys; sys.exit(airflow.__version__ != '$$v')"; \
		.venv-compat-$$v/bin/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) $(COMPAT_TESTS); \
	done

# The sdist and the wheel, in dist/ (pip install "dist/airflow_provider_empiriolabs-<version>-py3-none-any.whl[amazon]").
# Built with the locked setuptools of .venv (no build isolation: nothing is downloaded); the wheel
# is built from the sdist, so a file missing from the sdist fails here. tests/packaging installs
# the wheel into a fresh venv and runs a DAG with it.
dist: env
	rm -rf dist
	$(BIN)/uv build -q --no-build-isolation --python $(BIN)/python --out-dir dist
	ls -l dist

demo: env
	$(BIN)/python scripts/demo.py

bench-transfer: env
	$(BIN)/python bench/transfer.py

# Each bench writes its figures into docs/benchmarks.md (--quick: a smoke run that writes nothing).
bench: bench-polling bench-triggerer bench-rate-budget bench-shared-budget bench-worker-slots bench-import bench-transfer bench-try-setup

bench-polling: env
	$(BIN)/python bench/polling.py

bench-triggerer: env
	$(BIN)/python bench/triggerer.py

bench-rate-budget: env
	$(BIN)/python bench/rate_budget.py

bench-shared-budget: env $(REDIS_SERVER)
	$(BIN)/python bench/shared_budget.py

bench-worker-slots: env
	$(BIN)/python bench/worker_slots.py

bench-import: env
	$(BIN)/python bench/import_cost.py

bench-try-setup: env
	$(BIN)/python bench/try_setup.py

help:
	@sed -n '/^## help$$/,/^## end$$/{/^## /d;s/^# \{0,1\}//;p}' $(firstword $(MAKEFILE_LIST))

## help
# make demo              the example DAG against the simulator, on dag.test()
# make test              the suite (tests/system, tests/distributed apart) on 2 xdist workers
# make test-quick        the edit-run loop: no npm, no root, no dag.test() runs (pytest -m quick)
# make test-system       a real deployment and Chromium (tests/system)
# make test-distributed  CeleryExecutor, 2 workers, 2 triggerers, Postgres, Redis (tests/distributed)
# make test-compat       the suite's core on Airflow 3.3.0 (3.3.2 is the lock's: make test runs it)
# make mutate            planted bugs, one at a time, against the tests that guard them (not in CI)
# make lint typecheck docs dist lock bench clean
#
# CI's stages (.ci/run), minutes on 2 cores, before issue 19 -> after (fresh clones;
# docs/internals.rst has the table):
#   make test               9.8 -> 12.5  (2 xdist workers; 2,910 tests)
#   make test-system        5.1 -> 5.6
#   make test-distributed   5.2 -> 7.0
#   make test-compat        3.2 -> 4.7   (3.3.0 only, plus its venv build)
#   .ci/run in all         24.9 -> 31.3
#   make test-quick         2.2 -> 2.6
## end

clean:
	rm -rf $(VENV) .venv-compat-* .airflow-home demo-output docs/_build
