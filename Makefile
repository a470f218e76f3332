# Two commands: `make demo` and `make test`. Both build .venv from uv.lock first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# uv itself comes from PyPI at this version, into .tools/ (pyproject's [tool.uv] requires it).
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
# The first Python >= 3.11 on PATH builds the venv.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: venv lock test lint typecheck unit demo clean

venv: $(VENV)/.installed

$(UV):
	@test -n "$(PYTHON)" || { echo "error: Python 3.11+ not found on PATH"; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Exactly what uv.lock says (`--locked` fails if pyproject.toml and the lock disagree).
# The client's install test puts ./client into an empty venv offline, at the locked versions
# (constraints.txt): the resolver needs those wheels' metadata in uv's cache, which `uv sync`
# does not fetch, so `pip compile` fetches it here, where the registry may be reached.
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet --python "$$(command -v $(PYTHON))"
	$(UV) export --frozen --quiet --no-hashes --no-emit-project --no-emit-local -o $(TOOLS)/constraints.txt
	$(UV) pip compile --quiet --python "$$(command -v $(PYTHON))" client/pyproject.toml \
		-c $(TOOLS)/constraints.txt -o /dev/null
	@touch $@

# Re-resolve after editing pyproject.toml; the layer's pins follow the lock.
lock: | $(UV)
	$(UV) lock
	$(UV) run --locked python -m infra.layerlock --write

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
	rm -rf $(VENV) $(TOOLS) .build .localcloud .mypy_cache .pytest_cache .ruff_cache
