# Two commands: `make demo` and `make test`. Both build .venv from pyproject.toml first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# The first Python >= 3.11 on PATH builds the venv.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: venv test lint typecheck unit demo clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11+ not found on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

# Pulumi's mock runtime binds Outputs to the event loop current at creation, so the infra tests
# run in their own pytest process, away from pytest-asyncio's loops.
unit: venv
	$(VENV)/bin/pytest tests/infra
	$(VENV)/bin/pytest tests --ignore=tests/infra

test: lint typecheck unit

demo: venv
	$(PY) -m localcloud demo

clean:
	rm -rf $(VENV) .build .localcloud .mypy_cache .pytest_cache .ruff_cache
