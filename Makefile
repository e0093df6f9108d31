# Two commands on a fresh machine (Python >= 3.11, make, git):
#   make example   set up a virtualenv and run an example workflow
#   make test      set up a virtualenv and run lint, types, layer check and every test
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup example test lint bench bench-engine soak clean

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

# The seeds as SAM applications (examples/apps/): seed 1 as AWS published it, seeds 2-4
# written as SAM applications with plain boto3 functions. example-app-*: in-process, on a
# virtual clock; up-*: the same template served by `stepwell up` (Ctrl-C to stop).
.PHONY: example-app example-app-reprocessing example-app-busy-waiting example-app-callback
.PHONY: up-idempotent up-reprocessing up-busy-waiting up-callback
ENDPOINT_URL ?= http://127.0.0.1:8089

example-app: setup
	$(PY) -m examples.apps.idempotent_sam

example-app-reprocessing: setup
	$(PY) -m examples.apps.failed_communications_sam

example-app-busy-waiting: setup
	$(PY) -m examples.apps.busy_waiting_sam

example-app-callback: setup
	$(PY) -m examples.apps.sqs_callback_sam

up-idempotent: setup
	$(VENV)/bin/stepwell up examples/apps/idempotent-workflow-sam/template.yaml

up-reprocessing: setup
	$(VENV)/bin/stepwell up examples/apps/failed-communications-sam/template.yaml \
		--parameter-overrides EndpointUrl=$(ENDPOINT_URL)

up-busy-waiting: setup
	$(VENV)/bin/stepwell up examples/apps/busy-waiting-sam/template.yaml

up-callback: setup
	$(VENV)/bin/stepwell up examples/apps/sqs-callback-sam/template.yaml

lint: setup
	$(PY) -m ruff check src tests bench examples
	$(PY) -m ruff format --check src tests bench examples
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache

test: lint
	$(PY) -m pytest --cov --cov-report=term --cov-fail-under=95

# Stepwell's server beside moto's (bench/sidebyside.py); moto lives in a venv of its own.
BENCH_VENV ?= .venv-bench
BENCH_REPS ?= 1
BENCH_ARGS ?=
bench: setup $(BENCH_VENV)/.installed
	$(PY) bench/sidebyside.py --reps $(BENCH_REPS) --moto-venv $(BENCH_VENV) $(BENCH_ARGS)

$(BENCH_VENV)/.installed:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet 'moto[server,stepfunctions]>=5.0'
	touch $@

bench-engine: setup
	$(PY) bench/engine_bench.py

# The durable runtime: transitions/s with 1, 2 and 4 worker processes on SQLite and, when
# STEPWELL_TEST_POSTGRES_URL is set, on PostgreSQL beside it, with PostgreSQL's ratio to
# SQLite per worker count (medians of 3 rounds). `make bench` runs it too when that URL
# (or RUNTIME_BENCH=1) is set. bench/step_profile.py shows where a step's time goes.
.PHONY: bench-runtime
bench: $(if $(or $(STEPWELL_TEST_POSTGRES_URL),$(RUNTIME_BENCH)),bench-runtime)
bench-runtime: setup
	$(PY) bench/runtime_bench.py --repeat 3 --sequential 10

# Executions under PostgreSQL restarts (a private cluster), deleted/corrupted SQLite files
# and hostile requests, with an innocent client's latency against its quiet baseline
# (bench/soak.py; not part of `make test`). SOAK_SECONDS=600 for longer; SOAK_ARGS for
# more, e.g. "--trace --hostile-clients 4" (bench/soak.py --help).
SOAK_SECONDS ?= 180
SOAK_ARGS ?=
soak: setup
	$(PY) bench/soak.py --seconds $(SOAK_SECONDS) $(SOAK_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) .coverage .mypy_cache .ruff_cache .pytest_cache
