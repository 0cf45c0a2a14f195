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

# Xvfb + X/GL libraries (Debian, as root) and SasView 6.1.3 + pytest-qt in the same venv.
$(VENV)/.gui: $(VENV)/.runtime tests/gui/setup_gui_env.sh
	tests/gui/setup_gui_env.sh $(VENV)
	touch $@

.PHONY: demo test test-unit test-core test-gui test-gui-62 gui bench bench-docs examples
demo: $(VENV)/.runtime  ## set up and classify a bundled example curve
	$(BIN)/sasview-automodel suggest examples/sphere_saxs.txt

test: $(VENV)/.dev $(VENV)/.gui  ## set up and run the whole suite: engine, smoke training run, SasView GUI under Xvfb
	SAS_OPENCL=none $(BIN)/python -m pytest -q tests

test-unit: $(VENV)/.dev  ## the fast tier: no GUI, no slow tests (under two minutes)
	SAS_OPENCL=none $(BIN)/python -m pytest -q tests -m "not slow and not gui"

test-core: $(VENV)/.dev  ## everything but the GUI tests (no SasView needed)
	SAS_OPENCL=none $(BIN)/python -m pytest -q tests --ignore=tests/gui

test-gui: $(VENV)/.dev $(VENV)/.gui
	SAS_OPENCL=none $(BIN)/python -m pytest -q tests/gui

test-gui-62: $(VENV)/.gui  ## the GUI tests against SasView 6.2.0 on Python 3.12 (own venv, ~2 GB once)
	tests/gui/run_sasview62.sh

gui: $(VENV)/.gui  ## SasView with the plugin, an example loaded
	$(BIN)/sasview-automodel gui examples/sphere_saxs.txt

bench: $(VENV)/.runtime  ## the speed and memory table (benchmarks/bench_suggest.py)
	$(BIN)/python benchmarks/bench_suggest.py

bench-docs: $(VENV)/.runtime  ## the same, written to docs/benchmarks.md (2 processes, SasView start-up if installed)
	$(BIN)/python benchmarks/bench_suggest.py --workers 2 --gui-startup 3 --write-docs

examples: $(VENV)/.dev
	$(BIN)/python examples/make_examples.py
