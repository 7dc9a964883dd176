# The two commands of the README, `make run` and `make test`, are the whole set-up on a fresh
# machine: the first use creates .venv and installs the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
WORKLOADS ?= ../shared/workloads
RUNS ?= 5

.PHONY: run test check lint types contracts bench bench-journal compile uncompile clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,compile]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/venue serve --demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

types: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

check: lint types contracts test

# Compiles the hot modules with mypyc in place (the .so files shadow the .py sources);
# `make uncompile` goes back to pure Python. `venue bench` reports which one ran.
compile: $(STAMP)
	$(BIN)/python tools/build_compiled.py

uncompile:
	find src -name '*.so' -delete
	rm -rf build

bench: $(STAMP)
	$(BIN)/venue bench engine --workload $(WORKLOADS)/w1.csv.gz --runs $(RUNS)
	$(BIN)/venue bench engine --workload $(WORKLOADS)/w2.csv.gz --runs $(RUNS)
	$(BIN)/venue bench engine --workload $(WORKLOADS)/w1.csv.gz --runs $(RUNS) --with-accounts

# The sequencer with the real file journal (fsync per batch), then recovery from it.
bench-journal: $(STAMP)
	$(BIN)/venue bench journal --workload $(WORKLOADS)/w1.csv.gz --runs 3

clean: uncompile
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis
