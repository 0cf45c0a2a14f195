# Two entry points (README Quick start): `make demo` and `make test`. Both set up .venv first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: $(BIN)/python setup.py
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install -q -e ".[train,dev]"
	touch $@

.PHONY: demo test bench examples
demo: $(VENV)/.runtime  ## set up and classify a bundled example curve
	$(BIN)/sasview-automodel suggest examples/sphere_saxs.txt

test: $(VENV)/.dev  ## set up and run the whole test suite (includes a smoke training run)
	SAS_OPENCL=none $(BIN)/python -m pytest -q tests

bench: $(VENV)/.runtime
	$(BIN)/python benchmarks/bench_suggest.py

examples: $(VENV)/.dev
	$(BIN)/python examples/make_examples.py
