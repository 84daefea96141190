# crosstrain: `make run` reproduces the comparison, `make test` runs the tests.
# Both create .venv on first use and reinstall only when pyproject.toml or requirements.lock change.

SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
# dvc.yaml runs `crosstrain ...`: make the venv's commands the ones found.
export PATH := $(BIN):$(PATH)

.PHONY: help venv run run-full repro test test-fast ui bench bench-accuracy lint typecheck clean

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# requirements.lock pins every transitive dependency to the versions this was tested with.
	$(BIN)/python -m pip install --quiet --constraint requirements.lock --editable '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## Create or update .venv with pinned dependencies

run: venv ## Run the whole comparison (dvc repro): reports/comparison.html, MLflow runs, registry
	$(BIN)/dvc repro
	@$(BIN)/crosstrain summary

# The full benchmark: every example and more epochs and seeds, as a DVC experiment (params.yaml untouched).
FULL := -S 'seeds=[0,1,2,3,4]' -S tasks.images.limit=null -S tasks.images.train.epochs=10 \
        -S tasks.text.limit=null -S tasks.text.train.epochs=4
run-full: venv ## The full-size comparison as a DVC experiment (see `dvc exp show`); ~1 h on 2 cores
	$(BIN)/dvc exp run $(FULL)
	@$(BIN)/crosstrain summary

# Two workers, one test file each at a time (module fixtures stay shared): the long end-to-end
# tests overlap with the rest instead of running after them.
TEST_WORKERS ?= 2
test: venv .venv-tools/.installed ## Run the test suite (real TensorFlow, PyTorch, MLflow, DVC, GX; CPU-small)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: venv ## Run the tests that train nothing end to end
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow"

# MLflow 3.17's UI shows every experiment as GenAI (traces) until its "Model training" switch is
# picked (the browser remembers it) or the address asks for it: print the address of crosstrain's runs.
define UI_ADDRESS
import sqlite3
try:
    row = sqlite3.connect("file:mlflow.db?mode=ro", uri=True).execute(
        "select experiment_id from experiments where name = 'crosstrain'").fetchone()
except sqlite3.Error:
    row = None
page = f"experiments/{row[0]}" if row else "experiments"
print(f"crosstrain's runs: http://127.0.0.1:5000/#/{page}?workflowType=machine_learning")
endef
export UI_ADDRESS

ui: venv ## Open the MLflow UI on the embedded store; prints the address of crosstrain's runs
	@$(BIN)/python -c "$$UI_ADDRESS"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

bench: venv ## Print training speed and latency of both frameworks (see bench/README.md)
	$(BIN)/python bench/train_speed.py

bench-accuracy: venv ## Train the default models at full size in both frameworks; print test accuracy
	$(BIN)/python bench/accuracy.py

lint: venv ## Ruff: style, import order, complexity <= 12, docstrings and argument types in src
	$(BIN)/ruff check src tests bench components pipelines

typecheck: venv ## mypy on src
	$(BIN)/mypy

include bench/bench.mk
include k8s/images.mk
include k8s/tools.mk

clean: ## Remove pipeline outputs (not the MLflow store or the venv)
	rm -rf data/prepared reports models metrics plots dvc_plots
