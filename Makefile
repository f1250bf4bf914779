# The hub's commands. Everything runs from the virtual environment in .venv/,
# which the first command creates from the pinned versions in constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv jars demo test test-fast lint format typecheck schemas docs docs-check check clean

help:
	@echo "make demo       the walking skeleton on the embedded Kafka (the main job)"
	@echo "make test       every test, through a real Kafka broker and schema registry"
	@echo "make check      lint, types, schema compatibility and tests (what CI runs)"

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Apache Kafka and Apicurio Registry jars, from Maven Central into ~/.cache/hub.
jars: venv
	$(BIN)/hub kafka install
	$(BIN)/hub registry install

demo: jars
	$(BIN)/hub demo

test: jars
	$(BIN)/pytest $(PYTEST_ARGS)

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
