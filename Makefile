# streamtable: `make run` serves the app, `make test` passes the whole suite.
# Both set up a fresh machine themselves (virtualenv, Python and Debian packages).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ROWS ?= 100000
BIND ?= 127.0.0.1:8000
MUTANTS ?= 40
SLOW_CLIENTS ?= 1000
MUTATION_SEED ?= 1
MUTATION_DIR := build/mutation

.PHONY: run test lint bench load-test mutation system-packages clean

## Serve the app with gunicorn, seeding the default database with $(ROWS) rows if it is empty
## (not when STREAMTABLE_TABLE names a table of your own to serve).
run: $(VENV)/.installed
	$(if $(STREAMTABLE_TABLE),,$(BIN)/python seed.py --rows $(ROWS) --if-empty)
	BIND=$(BIND) exec $(BIN)/gunicorn -c gunicorn.conf.py

## Run every test, the browser tests included: on SQLite, then on a throwaway PostgreSQL server.
test: $(VENV)/.installed-test system-packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest
	scripts/with-postgres $(BIN)/pytest

## Measure throughput, first-row latency and memory against baselines (prints a table).
bench: $(VENV)/.installed-test system-packages
	$(BIN)/python -m bench

## Load test: 50 readers of a 100k-row table and 200 early leavers, production settings;
## then $(SLOW_CLIENTS) stalled and trickling clients from 10 loopback addresses while a
## visitor reads the table, straight to gunicorn and through deploy/nginx.conf.
load-test: $(VENV)/.installed-test system-packages
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.load --slow-clients $(SLOW_CLIENTS)
	$(BIN)/python -m bench.load --slow-clients $(SLOW_CLIENTS) --nginx

## Mutation test a sample of web/: $(MUTANTS) mutants (seed $(MUTATION_SEED)) against the fast
## unit tests, on a copy of the work tree; prints each survivor and the score (~10-15 minutes).
## Not part of `make test`. Configuration and the tests it runs: mutation.toml.
mutation: $(VENV)/.installed-mutation
	rm -rf $(MUTATION_DIR)
	mkdir -p $(MUTATION_DIR)/tree
	git ls-files -z --cached --others --exclude-standard \
	  | tar -c --null --files-from=- --ignore-failed-read | tar -x -C $(MUTATION_DIR)/tree
	cd $(MUTATION_DIR)/tree && export PATH="$(abspath $(BIN)):$$PATH" \
	  && cosmic-ray init mutation.toml ../session.sqlite \
	  && cr-filter-pragma ../session.sqlite \
	  && python scripts/mutation-sample ../session.sqlite \
	     --mutants $(MUTANTS) --seed $(MUTATION_SEED) \
	  && cosmic-ray baseline mutation.toml \
	  && started=$$(date +%s) && cosmic-ray exec mutation.toml ../session.sqlite \
	  && echo "mutation: the mutants ran in $$(( $$(date +%s) - started )) s"
	$(BIN)/python scripts/mutation-report $(MUTATION_DIR)/session.sqlite

## Install the Debian packages the tests drive (chromium, postgresql, nginx) if missing.
system-packages:
	@scripts/ensure-system-packages

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-mutation: pyproject.toml $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e '.[test,mutation]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
