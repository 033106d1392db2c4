# softgrad — the two quick-start commands and the developer targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make demo: set everything up and run the worked example
demo: $(STAMP)
	$(BIN)/softgrad check --z 1.75 1.75 --t 0 1

## make test: set everything up, lint, type-check, check the architecture and run the tests
test: lint
	$(BIN)/python -m pytest -q -n 2

## make lint: ruff, mypy and the import contracts of pyproject.toml (the direction of imports)
lint: $(STAMP)
	$(BIN)/ruff check softgrad tests benchmarks
	$(BIN)/ruff format --check softgrad tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

## make bench: speed and memory figures (never part of make test)
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
