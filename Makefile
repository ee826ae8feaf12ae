# Quick start: `make demo` runs the main job on built-in data; `make test` runs every test;
# `make metalearn-demo` trains and evaluates the meta-learner on the built-in synthetic zoo.
# All create .venv and install the project into it (Cython kernels included); `make test`
# also installs the `neural` extra (PyTorch, pinned by TORCH_REQUIREMENT), `make demo` does not.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo_output
METALEARN_DIR ?= metalearn_output
# Installed before the `neural` extra so that pip keeps this build instead of picking the newest.
TORCH_REQUIREMENT ?= torch==2.13.0

.PHONY: demo metalearn-demo test build neural test-tools shellcheck clean

# The build requirements go into the venv too, so that `make build` can recompile in place.
$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet 'setuptools>=68' wheel 'Cython>=3.0' 'numpy>=2.0' 'scipy>=1.11'
	$(PY) -m pip install --quiet --no-build-isolation -e '.[test,parquet,meta]'
	touch $@

# The optional neural models' dependency (PyTorch), for the tests and for `make neural`.
$(VENV)/.neural-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet '$(TORCH_REQUIREMENT)'
	$(PY) -m pip install --quiet --no-build-isolation -e '.[test,parquet,meta,neural]'
	touch $@

neural: $(VENV)/.neural-installed

# Rebuild kernels whose .pyx changed since the install (a no-op otherwise).
build: $(VENV)/.installed
	$(PY) setup.py --quiet build_ext --inplace

# bats and shellcheck come from the system's package manager (Debian: apt-get).
test-tools:
	@command -v bats >/dev/null && command -v shellcheck >/dev/null || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq bats shellcheck >/dev/null; \
	  else \
	    echo "error: install bats and shellcheck (e.g. 'sudo apt-get install bats shellcheck')" >&2; exit 1; \
	  fi; }

shellcheck: test-tools
	shellcheck scripts/*.sh tests/bats/*.bash

test: build neural test-tools
	$(VENV)/bin/lint-imports --no-logo
	$(PY) -m pytest -q
	bats tests/bats
	$(MAKE) --no-print-directory shellcheck

demo: build
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/demo.sh "$(DEMO_DIR)"

metalearn-demo: build
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/metalearn_demo.sh "$(METALEARN_DIR)"

clean:
	rm -rf build $(VENV) *.egg-info
	find Data_manager Experiment_handler Recommenders -name '*.so' -delete -o -name '*.c' -delete
