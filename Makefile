# cryptostream — every entry point a user or CI needs. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_EC2_METADATA_DISABLED := true
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install demo up test test-unit test-e2e test-infra test-flink lint synth deploy destroy bench soak soak-short clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/' | sort

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install everything

demo: install  ## run the whole pipeline on the embedded local stack
	$(VENV)/bin/cryptostream demo

up: install  ## run the embedded stack until Ctrl-C
	$(VENV)/bin/cryptostream up

lint: install  ## ruff
	$(VENV)/bin/ruff check .

test: install lint  ## unit, end-to-end and infrastructure tests
	$(VENV)/bin/pytest

test-unit: install
	$(VENV)/bin/pytest -m "not e2e and not infra"

test-e2e: install
	$(VENV)/bin/pytest -m e2e

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .ruff_cache
