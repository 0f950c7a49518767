# The two commands: `make demo` (install + a default search on the built-in digits) and
# `make test` (install with test extras + lint + the whole suite). Both create .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build on this machine's disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH := torch==2.13.0
DEMO_NAME ?= demo-$(shell date +%Y%m%d-%H%M%S)
PYTEST_ARGS ?=

.PHONY: demo test lint format install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/nas run --name $(DEMO_NAME)
	$(BIN)/nas show $(DEMO_NAME)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check evonas tests bench
	$(BIN)/ruff format --check evonas tests bench
	$(BIN)/mypy evonas

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix evonas tests bench
	$(BIN)/ruff format evonas tests bench

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
