# EdgeBench: `make run` and `make test` set everything up on a fresh machine.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup run test lint bench screenshots clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes; otherwise a no-op.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: setup
	$(VENV)/bin/edgebench-gui demo:digits-cnn

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# PNGs of every page with real data, into screenshots/ (git ignores it).
screenshots: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests/app -q -k "page or wizard or window"
	@ls screenshots

bench: setup
	$(PY) tests/benchmarks/bench_harness.py
	$(PY) tests/benchmarks/bench_compression.py
	QT_QPA_PLATFORM=offscreen $(PY) tests/benchmarks/bench_gui.py
	$(PY) tests/benchmarks/bench_report.py
	$(PY) tests/benchmarks/bench_devices.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
