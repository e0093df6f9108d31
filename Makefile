# Two commands on a fresh machine (Python >= 3.11, make, git):
#   make example   set up a virtualenv and run an example workflow
#   make test      set up a virtualenv and run lint, types, layer check and every test
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup example test lint bench soak clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

example: setup
	$(VENV)/bin/stepwell run examples/busy_waiting.asl.json \
		--functions examples/busy_waiting.py --input '{"job": "report-42"}'

# The four seed workflows of DESIGN.md, each against an in-process server (examples/*/).
.PHONY: example-idempotent example-reprocessing example-busy-waiting example-callback
.PHONY: example-distributed-map

example-idempotent: setup
	$(PY) -m examples.idempotent.run

example-reprocessing: setup
	$(PY) -m examples.reprocessing.run

example-busy-waiting: setup
	$(PY) -m examples.busy_waiting.run

example-callback: setup
	$(PY) -m examples.callback.run

example-distributed-map: setup
	$(PY) -m examples.distributed_map.run

# Seed 1 as the SAM application AWS published (examples/apps/idempotent-workflow-sam).
.PHONY: example-app up-idempotent

example-app: setup
	$(PY) -m examples.apps.idempotent_sam

up-idempotent: setup
	$(VENV)/bin/stepwell up examples/apps/idempotent-workflow-sam/template.yaml

lint: setup
	$(PY) -m ruff check src tests bench examples
	$(PY) -m ruff format --check src tests bench examples
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache

test: lint
	$(PY) -m pytest --cov --cov-report=term --cov-fail-under=95

bench: setup
	$(PY) bench/engine_bench.py

# The durable runtime: transitions/s with 1, 2 and 4 worker processes on SQLite and, when
# STEPWELL_TEST_POSTGRES_URL is set, on PostgreSQL beside it, with PostgreSQL's ratio to
# SQLite per worker count (medians of 3 rounds). `make bench` runs it too when that URL
# (or RUNTIME_BENCH=1) is set. bench/step_profile.py shows where a step's time goes.
.PHONY: bench-runtime
bench: $(if $(or $(STEPWELL_TEST_POSTGRES_URL),$(RUNTIME_BENCH)),bench-runtime)
bench-runtime: setup
	$(PY) bench/runtime_bench.py --repeat 3 --sequential 10

# Executions under PostgreSQL restarts, deleted/corrupted SQLite files and hostile
# requests (bench/soak.py; not part of `make test`). SOAK_SECONDS=600 for longer.
SOAK_SECONDS ?= 180
soak: setup
	$(PY) bench/soak.py --seconds $(SOAK_SECONDS)

clean:
	rm -rf $(VENV) .coverage .mypy_cache .ruff_cache .pytest_cache
