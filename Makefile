# The two commands: `make demo` and `make test`. Both create .venv and install on first use;
# a re-run skips the install unless pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint format ui worker clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "llmusage needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pipelines.demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The quick loop: everything but the slow fault, outage, crash and soak tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m 'not slow'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The Dagster UI over the demo's data and runs (run `make demo` first): http://127.0.0.1:3000
# The demo's demo.env sets LLMUSAGE_PARTITIONS_START to its first seeded day (unless it is set already);
# schedules and sensors run (the daemon of `dagster dev`) unless LLMUSAGE_AUTOMATION=off.
LLMUSAGE_HOME ?= $(CURDIR)/.llmusage
ui: $(STAMP)
	@mkdir -p $(LLMUSAGE_HOME)/dagster
	@if [ -n "$$LLMUSAGE_DAGSTER_STORAGE" ]; then LLMUSAGE_HOME=$(LLMUSAGE_HOME) $(BIN)/python -m pipelines.instance $(LLMUSAGE_HOME)/dagster; \
	 else test -f $(LLMUSAGE_HOME)/dagster/dagster.yaml || printf 'telemetry:\n  enabled: false\n' > $(LLMUSAGE_HOME)/dagster/dagster.yaml; fi
	set -a; test -n "$$LLMUSAGE_PARTITIONS_START" || test ! -f $(LLMUSAGE_HOME)/dagster/demo.env || . $(LLMUSAGE_HOME)/dagster/demo.env; set +a; \
	DAGSTER_HOME=$(LLMUSAGE_HOME)/dagster LLMUSAGE_HOME=$(LLMUSAGE_HOME) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# A Celery worker for runs on the Celery executor (LLMUSAGE_DAGSTER_EXECUTOR=celery): broker and queue from
# LLMUSAGE_CELERY_BROKER_URL (default redis://127.0.0.1:6379/0) and LLMUSAGE_CELERY_QUEUE (default dagster);
# start as many as you like, on any machine that reaches the broker, the Dagster database, PostgreSQL and the lake.
worker: $(STAMP)
	LLMUSAGE_HOME=$(LLMUSAGE_HOME) $(BIN)/python -m pipelines.worker

clean:
	-$(BIN)/llmusage db stop 2>/dev/null
	rm -rf $(VENV) .llmusage .llmusage-test
