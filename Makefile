# Two commands to start: `make demo` and `make test`. Both create .venv when it is missing;
# `make test` also starts the local servers and installs Debian's chromium (browser test),
# prometheus, promtool and alertmanager (rule-file and Alertmanager tests), and psql and
# redis-cli when missing (runbook steps run them).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The rule cycle's hot path, compiled in place by mypyc (the same source, about 1.4x faster);
# `make pure` removes the compiled modules and Vigil runs as plain Python.
COMPILED := src/vigil/metrics/series.py src/vigil/metrics/matchers.py src/vigil/metrics/store.py \
	src/vigil/metrics/heads.py src/vigil/metrics/head_arrays.py src/vigil/metrics/chunks.py \
	src/vigil/metrics/series_slots.py \
	src/vigil/metrics/wal/records.py src/vigil/metrics/wal/replay.py \
	$(wildcard src/vigil/metrics/promql/*.py)
COMPILED_STAMP := src/.compiled

.PHONY: demo test lint typecheck unit bench services clean compiled pure

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Without a C compiler Vigil still runs, as plain Python; `make test` then fails on purpose
# (tests/metrics/test_compiled.py), since CI must test the compiled modules.
$(COMPILED_STAMP): $(STAMP) $(COMPILED)
	cd src && ../$(BIN)/mypyc $(COMPILED:src/%=%) > ../.venv/mypyc.log 2>&1 \
		|| (tail -5 ../.venv/mypyc.log; echo "vigil: compiling failed (.venv/mypyc.log): running as plain Python"; \
		    cd .. && $(MAKE) --no-print-directory pure)
	rm -rf src/build
	touch $(COMPILED_STAMP)

compiled: $(COMPILED_STAMP)

pure:
	rm -f $(COMPILED_STAMP) src/*__mypyc*.so $(COMPILED:.py=.cpython-*.so)

demo: $(STAMP) $(COMPILED_STAMP)
	$(BIN)/vigil demo

services:
	bash scripts/ensure-services.sh
	sh scripts/install-clients.sh
	sh scripts/install-browser.sh
	bash scripts/install-peers.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The evaluator's tests again as plain Python, as a wheel installs it: a copy of the package
# without the compiled modules goes first on the path.
PURE_TESTS := tests/metrics/test_promql.py tests/metrics/test_promql_fast_paths.py \
	tests/metrics/test_promql_oracle.py tests/metrics/test_store.py tests/metrics/test_compiled.py \
	tests/alerting/test_local.py tests/alerting/test_evaluator.py tests/metrics/test_series_slots.py

unit: $(STAMP) $(COMPILED_STAMP) services
	VIGIL_EXPECT_COMPILED=1 $(BIN)/pytest -q -n 2 --dist loadfile
	rm -rf .pure && mkdir .pure && cp -r src/vigil .pure/ && find .pure -name '*.so' -delete
	PYTHONPATH=.pure VIGIL_EXPECT_COMPILED=0 $(BIN)/pytest -q -p no:cacheprovider $(PURE_TESTS)

test: lint typecheck unit

bench: $(STAMP) $(COMPILED_STAMP)
	$(BIN)/python bench/probe_throughput.py

clean: pure
	rm -rf $(VENV) .vigil .pure .mypy_cache .ruff_cache .pytest_cache
