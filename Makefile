# cryptostream — every entry point a user or CI needs. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_EC2_METADATA_DISABLED := true
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install demo up test test-unit test-e2e test-infra test-flink test-deployed lint synth deploy destroy bench soak soak-short crash-short clean

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
	$(VENV)/bin/cryptostream demo --source alphavantage --source coinbase --source kraken

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
	rm -rf $(VENV) cdk.out .pytest_cache .ruff_cache .deployed

# PyFlink is ~850 MB (apache-beam, pandas, a JVM bridge): it gets its own venv, outside the default install.
FLINK_VENV := .venv-flink

$(FLINK_VENV)/.installed:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found; PyFlink needs a Java 11 or 17 runtime" >&2; exit 1; }
	$(PYTHON) -m venv $(FLINK_VENV)
	$(FLINK_VENV)/bin/python -m pip install -q --upgrade pip
	$(FLINK_VENV)/bin/python -m pip install -q apache-flink==2.3.0 pytest==9.2.0
	touch $@

test-flink: $(FLINK_VENV)/.installed  ## the Studio notebook's Flink SQL on PyFlink (own venv, needs Java)
	PYTHONPATH=$(CURDIR) $(FLINK_VENV)/bin/python -m pytest tests/flink --noconftest -p no:cacheprovider

# --- AWS deployment (CDK): see docs/infrastructure.md ----------------------------------------
CDK := npx --no-install cdk
CDK_ARGS ?=
.PHONY: bootstrap cfn-lint

node_modules: package.json package-lock.json  ## npm ci: the pinned CDK CLI (aws-cdk 2.1148.x)
	npm ci --no-audit --no-fund
	@touch node_modules

synth: install node_modules  ## synthesize cdk.out with cdk-nag (offline; no AWS account needed)
	$(CDK) synth --quiet $(CDK_ARGS)

bootstrap: install node_modules  ## once per account and region: cdk bootstrap
	$(CDK) bootstrap $(CDK_ARGS)

deploy: install node_modules  ## deploy to the account/region of your AWS credentials
	$(CDK) deploy --require-approval broadening $(CDK_ARGS)

destroy: install node_modules  ## delete the stack (retained data stays: see docs/infrastructure.md)
	$(CDK) destroy --force $(CDK_ARGS)

test-infra: install  ## CDK assertions, cdk-nag and cfn-lint on the synthesized templates
	$(VENV)/bin/pytest -m infra tests/infra

cfn-lint: synth  ## CloudFormation lint of every synthesized template
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- cdk.out/*.template.json

# --- proof under load and faults: see docs/benchmarks.md ----------------------------------------
bench: install  ## benchmarks (medians of repeated runs); rewrites docs/benchmarks.md (~10 min)
	$(PY) -m bench

# The crash suite (tools/crash): `cryptostream up` SIGKILLed, its disk filled, restarted, then accounted for.
soak: install  ## 100,000 quotes under every fault kind, then the crash suite at 40 kills; fails if anything is lost
	$(PY) -m tools.soak --quotes 100000
	$(PY) -m tools.crash --kills 40 --disk-full 4

soak-short: install  ## the soak at 10,000 quotes (CI)
	$(PY) -m tools.soak --quotes 10000

crash-short: install  ## the crash suite at 6 kills and a full disk (CI, ~2 min); last line: crash: ... 0 lost ...
	$(PY) -m tools.crash --kills 6 --disk-full 1

# --- the deployed app, proven: see docs/infrastructure.md "Verified by deployment" ---------------
# MiniStack (an independent AWS emulator, MIT) in its own venv. Its Lambda functions run on this venv's
# Python, so the venv also holds what the Lambda runtime provides (boto3, matching MiniStack's botocore
# pin) -- never the deployed artefact -- and duckdb, which its Firehose needs to write Parquet.
MINISTACK_VENV := .venv-ministack

$(MINISTACK_VENV)/.installed: Makefile
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=python3 ...'" >&2; exit 1; }
	$(PYTHON) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/python -m pip install -q --upgrade pip
	$(MINISTACK_VENV)/bin/python -m pip install -q ministack==1.5.33 boto3==1.43.106 botocore==1.43.106 duckdb==1.5.5
	touch $@

test-deployed: install node_modules $(MINISTACK_VENV)/.installed  ## deploy the CDK app into MiniStack, run the pipeline there, count every hop
	$(PY) -m tools.deployed
