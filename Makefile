# Two commands to start: `make demo` and `make test`. Both create .venv when it is missing;
# `make test` also starts the local servers and installs Debian's chromium (browser test) and
# prometheus, promtool and alertmanager (rule-file and Alertmanager tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench services clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vigil demo

services:
	bash scripts/ensure-services.sh
	sh scripts/install-browser.sh
	bash scripts/install-peers.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) services
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/probe_throughput.py

clean:
	rm -rf $(VENV) .vigil .mypy_cache .ruff_cache .pytest_cache
