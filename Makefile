# Outcome Hub: the two commands a newcomer needs are `make demo` and `make test`.
# Each creates .venv and installs the pinned dependencies on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOME_DIR ?= var/demo

# The hub makes no network calls, ever: Great Expectations analytics off, Dagster telemetry off.
export GX_ANALYTICS_ENABLED := False
export DAGSTER_DISABLE_TELEMETRY := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test lint typecheck unit bench ui clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Outcome Hub needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/outcomes demo --home $(HOME_DIR)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -n 2 tests

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench.run

ui: $(STAMP)
	$(BIN)/outcomes ui --home $(HOME_DIR)

clean:
	rm -rf $(VENV) var site .pytest_cache .mypy_cache .ruff_cache
