# The two entry points of the README, plus housekeeping. Needs python3 (3.11+), git and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint stop status clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Carry the demo issue to a pull request on the embedded stack (ARGS=--interactive to approve yourself)
demo: $(STAMP)
	$(PY) -m devstack.demo $(ARGS)

## The whole test suite
test: $(STAMP)
	$(PY) -m pytest -q

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
