# The two entry points of the README, plus housekeeping. Needs python3 (3.11+), git and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast sandbox-check host lint stop status clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Carry the demo issue to a pull request on the embedded stack (ARGS=--interactive to approve yourself)
demo: $(STAMP) host
	$(PY) -m devstack.demo $(ARGS)

## The whole test suite, TEST_WORKERS processes at a time (each takes whole test modules)
TEST_WORKERS ?= 2
test: $(STAMP) host
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

## The suite without end-to-end runs and real environment builds (no package index needed)
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not e2e and not slow"

## Host packages for the sandbox (bubblewrap, python3-venv); installs them as root
host:
	bash devstack/host-packages.sh

## Can this host confine repository code? (bubblewrap; see config/README.md, sandbox)
sandbox-check: $(STAMP)
	$(PY) -m activities.sandbox

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

## Stop the embedded stack the demo left running
stop: $(STAMP)
	$(PY) -m devstack.stack stop

status: $(STAMP)
	$(PY) -m devstack.stack status

clean: stop
	rm -rf .autopilot
