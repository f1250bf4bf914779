# The hub's commands. Everything runs from the virtual environment in .venv/,
# which the first command creates from the pinned versions in constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv jars demo bench test test-fast lint format typecheck schemas docs docs-check check clean

help:
	@echo "make demo       a simulated university through the hub, scored (the main job)"
	@echo "make test       every test, through a real Kafka broker and schema registry"
	@echo "make check      lint, types, schema compatibility and tests (what CI runs)"
	@echo "make bench      the pipeline against a raw Kafka passthrough (bench/results/)"

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,rocksdb]'
	touch $(STAMP)

venv: $(STAMP)

# Apache Kafka and Apicurio Registry jars, from Maven Central into ~/.cache/hub.
jars: venv
	$(BIN)/hub kafka install
	$(BIN)/hub registry install

# DEMO_ARGS="--people 2000 --keep-running"; HUB_DEMO_PEOPLE sets the size too.
DEMO_ARGS ?=
demo: jars
	$(BIN)/hub demo $(DEMO_ARGS)

# BENCH_ARGS="--people 100000 --growth 10000 100000 300000" for the full-size run.
BENCH_ARGS ?=
bench: jars
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Two pytest processes (pytest-xdist), each with its own broker, registry and RabbitMQ;
# tests/conftest.py keeps some files' tests together in one (_XDIST_GROUPS).
# TEST_PROCESSES=0 runs everything in one process.
TEST_PROCESSES ?= 2
test: jars
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadgroup $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/pytest -m "not kafka and not registry" $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: venv
	$(BIN)/mypy

schemas: venv
	$(BIN)/hub schemas check

# docs/rules.md is made from the rules; `make docs-check` fails when it is stale.
docs: venv
	$(BIN)/hub rules docs

docs-check: venv
	$(BIN)/hub rules docs --check

check: lint typecheck schemas docs-check test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
